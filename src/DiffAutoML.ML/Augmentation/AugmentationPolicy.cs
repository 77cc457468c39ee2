using DiffAutoML.ML.Native;
using DiffAutoML.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The learnable augmentation policy tau: logits over every ordered pair of operations (sub-policies), sampled per
/// sample by Gumbel-max, and trained with the loss of the paper's equation 2 so that sub-policies producing hard samples
/// become more likely. Owns tau and its optimizer.
/// </summary>
public sealed class AugmentationPolicy : IDisposable
{
    private readonly LogitOptimizer _optimizer;
    private readonly Tensor _operationIds;

    /// <summary>Creates a uniform policy (tau = 0) on <paramref name="device"/>.</summary>
    public AugmentationPolicy(AugmentationOptions options, Device device)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options with { };
        Options.Validate();
        Operations = Options.ResolveOperations().ToArray();
        Logits = new Parameter(zeros(Operations.Count * Operations.Count, device: device), requires_grad: true);
        _operationIds = tensor(Operations.Select(o => (long)o).ToArray(), device: device);
        _optimizer = LogitOptimizer.Sgd(Logits, Options.LearningRate, Options.Momentum, Options.WeightDecay);
    }

    /// <summary>The settings (a copy).</summary>
    public AugmentationOptions Options { get; }

    /// <summary>The operations that pairs are made of.</summary>
    public IReadOnlyList<AugmentationOperation> Operations { get; }

    /// <summary>Number of sub-policies K = (number of operations)^2.</summary>
    public int SubPolicyCount => Operations.Count * Operations.Count;

    /// <summary>tau: one logit per sub-policy, float [K].</summary>
    public Parameter Logits { get; }

    /// <summary>The operation pair of sub-policy <paramref name="k"/> (first applied first).</summary>
    public (AugmentationOperation First, AugmentationOperation Second) SubPolicy(int k)
        => (Operations[k / Operations.Count], Operations[k % Operations.Count]);

    /// <summary>Short name of sub-policy k, for reports ("Rotate+Color").</summary>
    public string SubPolicyName(int k) { var (a, b) = SubPolicy(k); return $"{a}+{b}"; }

    /// <summary>
    /// Draws k_i ~ softmax(tau) by Gumbel-max, two levels ~ Uniform[0, 10] and two random signs per sample, from
    /// <paramref name="generator"/> (so a seed fixes them), then moved to the policy's device. TorchSharp's generators
    /// are CPU generators whatever device they are given (dotnet/TorchSharp#1194), and a CUDA draw from one crashes the
    /// process, so the numbers are drawn on the CPU: the same seed gives the same sample on every device. No
    /// synchronization: the copies to the device are non-blocking (<see cref="HostToDevice"/>).
    /// </summary>
    public AugmentationSample Sample(int batch, Generator generator)
    {
        var device = Logits.device;
        var uniform = HostToDevice.Copy(rand(new long[] { batch, SubPolicyCount }, generator: generator), device).clamp_(Scalars.Of(1e-10), Scalars.Of(1 - 1e-7));
        var gumbel = uniform.log_().neg_().log_().neg_();
        Tensor k;
        using (no_grad()) k = Logits.detach().unsqueeze(0).add(gumbel, Scalars.One).argmax(1);
        var levels = HostToDevice.Copy(rand(new long[] { batch, 2 }, generator: generator), device).mul_(Scalars.Of(AugmentationMagnitudes.MaxLevel));
        var signs = HostToDevice.Copy(rand(new long[] { batch, 2 }, generator: generator), device).lt(Scalars.Of(0.5)).to(ScalarType.Float32).mul_(Scalars.Of(2)).sub_(Scalars.Of(1));
        var first = _operationIds.index_select(0, k.div(Scalars.Of(Operations.Count), rounding_mode: RoundingMode.floor));
        var second = _operationIds.index_select(0, k.remainder(Scalars.Of(Operations.Count)));
        return new AugmentationSample(k, first, second, levels, signs);
    }

    /// <summary>Applies each sample's pair (first, then second) to float images [B, C, H, W] in 0..255.</summary>
    /// <remarks>On CUDA without any host read (<see cref="BatchAugmenter.ApplyBySelection"/>); on the CPU by grouping the
    /// samples of each operation, which costs one host read for both stages and does less arithmetic. Both give the
    /// same pixels.</remarks>
    public Tensor Augment(Tensor images, AugmentationSample sample)
    {
        using var scope = NewDisposeScope();
        if (images.device_type == DeviceType.CUDA)
        {
            var first = BatchAugmenter.ApplyBySelection(images, sample.First, sample.Levels.select(1, 0), sample.Signs.select(1, 0), Options.FillValue);
            return BatchAugmenter.ApplyBySelection(first, sample.Second, sample.Levels.select(1, 1), sample.Signs.select(1, 1), Options.FillValue).MoveToOuterDisposeScope();
        }
        // Both stages' group sizes in one host read: each read waits for the device, and the ids are known up front.
        var counts = BatchAugmenter.GroupSizes(sample.First, sample.Second);
        var once = BatchAugmenter.Apply(images, sample.First, sample.Levels.select(1, 0), sample.Signs.select(1, 0), Options.FillValue, counts[0]);
        return BatchAugmenter.Apply(once, sample.Second, sample.Levels.select(1, 1), sample.Signs.select(1, 1), Options.FillValue, counts[1]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L_DA(tau) = -(1/B) sum_i p_{k_i}(tau) CE_i, p = softmax(tau), CE_i detached (paper eq. 2, averaged over the batch).
    /// Minimizing it raises the probability of sub-policies whose samples have a high loss.
    /// </summary>
    public Tensor Loss(Tensor perSampleLoss, AugmentationSample sample)
    {
        var p = Logits.softmax(0).gather(0, sample.SubPolicies);
        return -(p * perSampleLoss.detach()).mean();
    }

    /// <summary>One SGD step of tau on <see cref="Loss"/>.</summary>
    public void Step(Tensor perSampleLoss, AugmentationSample sample)
    {
        using var scope = NewDisposeScope();
        _optimizer.ZeroGrad();
        Loss(perSampleLoss, sample).backward();
        _optimizer.Step();
    }

    /// <summary>softmax(tau) on the host.</summary>
    public double[] Probabilities()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Logits.softmax(0).to(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    /// <summary>Entropy of softmax(tau) in nats (ln K when uniform; falls as the policy concentrates).</summary>
    public double Entropy() => -Probabilities().Where(p => p > 0).Sum(p => p * Math.Log(p));

    /// <summary>The <paramref name="count"/> most probable sub-policies.</summary>
    public IReadOnlyList<(string Name, double Probability)> Top(int count)
        => Probabilities().Select((p, k) => (SubPolicyName(k), p)).OrderByDescending(t => t.p).Take(count).ToArray();

    /// <summary>Writes tau and its optimizer's state (for checkpoints).</summary>
    public void WriteState(BinaryWriter writer)
    {
        var values = Logits.detach().cpu().data<float>().ToArray();
        writer.Write(values.Length);
        foreach (var v in values) writer.Write(v);
        _optimizer.WriteState(writer);
    }

    /// <summary>Reads what <see cref="WriteState"/> wrote.</summary>
    public void ReadState(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count != SubPolicyCount) throw new InvalidDataException($"The saved policy has {count} sub-policies; this one has {SubPolicyCount}.");
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = reader.ReadSingle();
        using (no_grad()) Logits.copy_(tensor(values).to(Logits.device));
        _optimizer.ReadState(reader);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _operationIds.Dispose();
        Logits.Dispose();
    }
}
