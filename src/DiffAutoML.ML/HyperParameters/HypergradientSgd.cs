using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.HyperParameters;

/// <summary>
/// SGD with momentum written out (paper eq. 6) and the one-step hypergradients of weight decay and learning rate
/// (paper eq. 7), learned in log space by Adam and kept within bounds. Works on any list of parameters: a supernet,
/// a child, or a fixed hand-designed network.
/// </summary>
/// <remarks>
/// Use per training step: backward of the training loss; <see cref="Step"/>; clear the gradients (set to none);
/// forward and backward of an un-augmented validation batch at the new weights; <see cref="HyperStep"/> when
/// <see cref="HyperStepDue"/>. Parameters whose gradient is none are left alone (unsampled supernet blocks), so their
/// momentum does not keep moving them.
/// </remarks>
public sealed class HypergradientSgd : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly bool[] _decayed;
    private readonly Tensor?[] _velocity;
    private readonly bool[] _updated;
    private readonly List<HyperparameterRecord> _trajectory = new();
    private double _logDecay, _logMultiplier;
    private double _adamMeanDecay, _adamSquareDecay, _adamMeanMultiplier, _adamSquareMultiplier;
    private long _adamSteps;
    private double _lastLearningRate;

    /// <summary>Creates the optimizer. Parameters with two or more dimensions (convolution and linear weights) are
    /// decayed; batch-norm parameters and biases (one dimension) are not.</summary>
    public HypergradientSgd(IEnumerable<Parameter> parameters, HyperparameterOptions options, LearningRateSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        Options = options with { };
        Options.Validate();
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        _parameters = parameters.ToArray();
        _decayed = _parameters.Select(p => p.dim() >= 2).ToArray();
        _velocity = new Tensor?[_parameters.Length];
        _updated = new bool[_parameters.Length];
        _logDecay = Math.Log(Options.WeightDecay);
    }

    /// <summary>The settings (a copy).</summary>
    public HyperparameterOptions Options { get; }

    /// <summary>The learning-rate schedule the learned multiplier scales.</summary>
    public LearningRateSchedule Schedule { get; private set; }

    /// <summary>Replaces the schedule (a run shortened to fit a time budget); the step count is kept.</summary>
    public void Reschedule(LearningRateSchedule schedule) => Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));

    /// <summary>Steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>Current weight decay lambda.</summary>
    public double WeightDecay => Math.Exp(_logDecay);

    /// <summary>Current learned multiplier of the schedule (1 unless the learning rate is tuned).</summary>
    public double LearningRateMultiplier => Math.Exp(_logMultiplier);

    /// <summary>Learning rate the next <see cref="Step"/> uses.</summary>
    public double CurrentLearningRate => LearningRateMultiplier * Schedule.At(StepCount);

    /// <summary>Hyper-parameter updates so far.</summary>
    public IReadOnlyList<HyperparameterRecord> Trajectory => _trajectory;

    /// <summary>Hypergradient updates skipped because the validation gradients were not finite.</summary>
    public int SkippedHyperSteps { get; private set; }

    /// <summary>Whether eta should be updated after the step just taken.</summary>
    public bool HyperStepDue => (Options.TuneWeightDecay || Options.TuneLearningRate) && StepCount > 0 && StepCount % Options.UpdateEvery == 0;

    /// <summary>
    /// Paper eq. 6 for every parameter with a gradient: v_{t+1} = mu v_t + g_t + lambda theta_t (lambda only for
    /// decayed parameters); theta_{t+1} = theta_t - lr v_{t+1}.
    /// </summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double lr = CurrentLearningRate, decay = WeightDecay, mu = Options.Momentum;
        using Scalar momentum = mu.ToScalar(), decayScalar = decay.ToScalar(), step = (-lr).ToScalar();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            using var grad = p.grad;
            _updated[i] = grad is not null;
            if (grad is null) continue;
            var v = _velocity[i] ??= zeros_like(p).DetachFromDisposeScope();
            v.mul_(momentum).add_(grad);
            if (_decayed[i]) v.add_(p, alpha: decayScalar);
            p.add_(v, alpha: step);
        }
        _lastLearningRate = lr;
        StepCount++;
    }

    /// <summary>
    /// Paper eq. 7, with theta_t and v_t held constant and the gradients of the validation loss at theta_{t+1} in the
    /// parameters' .grad: dL/dlambda = -lr &lt;g_val, theta_t&gt; (decayed parameters), dL/dlr = -&lt;g_val, v_{t+1}&gt;.
    /// theta_t is recovered as theta_{t+1} + lr v_{t+1}, so no copy of the weights is kept.
    /// </summary>
    public (double WeightDecay, double LearningRate) Hypergradients()
    {
        if (StepCount == 0) throw new InvalidOperationException("Take a Step before computing hypergradients.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double lr = _lastLearningRate;
        // The dot products run once over the concatenated parameters: a per-parameter loop of small tensor calls cost
        // more than a small validation batch's forward and backward on the CPU (about 150 parameter tensors). Decayed
        // parameters come first, so their part of the concatenation is a prefix.
        var order = Enumerable.Range(0, _parameters.Length).Where(i => _updated[i]).OrderBy(i => _decayed[i] ? 0 : 1).ToArray();
        var gradients = new List<Tensor>(order.Length);
        var velocities = new List<Tensor>(order.Length);
        var decayedWeights = new List<Tensor>(order.Length);
        long decayedLength = 0;
        foreach (int i in order)
        {
            var grad = _parameters[i].grad;
            if (grad is null) continue;
            gradients.Add(grad.reshape(-1));
            velocities.Add(_velocity[i]!.reshape(-1));
            if (!_decayed[i]) continue;
            decayedWeights.Add(_parameters[i].detach().reshape(-1));
            decayedLength += grad.numel();
        }
        if (gradients.Count == 0) return (0, 0);
        var g = cat(gradients).to(ScalarType.Float64);
        var v = cat(velocities).to(ScalarType.Float64);
        var gV = g.dot(v);
        var gTheta = zeros_like(gV);
        if (decayedLength > 0)
        {
            var gd = g.narrow(0, 0, decayedLength);
            using var lrScalar = lr.ToScalar();
            gTheta = gd.dot(cat(decayedWeights).to(ScalarType.Float64)) + gd.dot(v.narrow(0, 0, decayedLength)).mul_(lrScalar); // <g, theta_t>
        }
        // One host read for both numbers.
        var both = stack(new[] { gTheta, gV }).cpu().data<double>().ToArray();
        return (-lr * both[0], -both[1]);
    }

    /// <summary>
    /// Updates log(lambda) and log(multiplier) by one Adam step on the hypergradients (chain rule: d/dlog x = x d/dx),
    /// clamps them to their bounds and records the values. Non-finite hypergradients skip the update.
    /// </summary>
    public HyperparameterRecord HyperStep()
    {
        var (dDecay, dLr) = Hypergradients();
        if (!double.IsFinite(dDecay) || !double.IsFinite(dLr))
        {
            SkippedHyperSteps++;
            return Record(dDecay, dLr);
        }
        _adamSteps++;
        const double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
        double Adam(double gradient, ref double mean, ref double square)
        {
            mean = beta1 * mean + (1 - beta1) * gradient;
            square = beta2 * square + (1 - beta2) * gradient * gradient;
            double meanHat = mean / (1 - Math.Pow(beta1, _adamSteps)), squareHat = square / (1 - Math.Pow(beta2, _adamSteps));
            return Options.HyperLearningRate * meanHat / (Math.Sqrt(squareHat) + epsilon);
        }
        if (Options.TuneWeightDecay)
        {
            _logDecay -= Adam(dDecay * WeightDecay, ref _adamMeanDecay, ref _adamSquareDecay);
            _logDecay = Math.Clamp(_logDecay, Math.Log(Options.MinWeightDecay), Math.Log(Options.MaxWeightDecay));
        }
        if (Options.TuneLearningRate)
        {
            _logMultiplier -= Adam(dLr * _lastLearningRate, ref _adamMeanMultiplier, ref _adamSquareMultiplier);
            _logMultiplier = Math.Clamp(_logMultiplier, Math.Log(Options.MinLearningRateMultiplier), Math.Log(Options.MaxLearningRateMultiplier));
        }
        return Record(dDecay, dLr);
    }

    private HyperparameterRecord Record(double dDecay, double dLr)
    {
        var record = new HyperparameterRecord(StepCount - 1, WeightDecay, _lastLearningRate, LearningRateMultiplier, dDecay, dLr);
        _trajectory.Add(record);
        return record;
    }

    /// <summary>The optimizer's scalar state, for checkpoints.</summary>
    public HypergradientSgdState SaveState() => new(StepCount, _logDecay, _logMultiplier, _adamMeanDecay, _adamSquareDecay,
        _adamMeanMultiplier, _adamSquareMultiplier, _adamSteps, _trajectory.ToArray());

    /// <summary>Restores the scalar state saved by <see cref="SaveState"/>.</summary>
    public void LoadState(HypergradientSgdState state)
    {
        StepCount = state.StepCount;
        (_logDecay, _logMultiplier) = (state.LogWeightDecay, state.LogLearningRateMultiplier);
        (_adamMeanDecay, _adamSquareDecay, _adamMeanMultiplier, _adamSquareMultiplier, _adamSteps) =
            (state.AdamMeanDecay, state.AdamSquareDecay, state.AdamMeanMultiplier, state.AdamSquareMultiplier, state.AdamSteps);
        _trajectory.Clear();
        _trajectory.AddRange(state.Trajectory);
    }

    /// <summary>Momentum buffers (null for parameters never updated), in parameter order, for checkpoints.</summary>
    public IReadOnlyList<Tensor?> Velocities => _velocity;

    /// <summary>Sets momentum buffer <paramref name="index"/> (a copy is kept), for resuming.</summary>
    public void LoadVelocity(int index, Tensor? velocity)
    {
        _velocity[index]?.Dispose();
        _velocity[index] = velocity?.to(_parameters[index].device).clone().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in _velocity) v?.Dispose();
    }
}
