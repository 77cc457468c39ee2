using DiffAutoML.ML.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Training;

/// <summary>
/// Adam, or SGD with momentum and L2 weight decay, for one small logit tensor: the architecture logits alpha and the
/// augmentation logits tau. The same arithmetic as PyTorch's (and TorchSharp's) optimizers, written here because
/// TorchSharp's pass temporary Scalars to libtorch at every step, which a garbage collection can free mid-call (see
/// <see cref="Native.Scalars"/>); every Scalar here lives in a using declaration. The state is a few tensors the size
/// of the parameter, written to checkpoints by <see cref="WriteState"/>.
/// </summary>
internal sealed class LogitOptimizer : IDisposable
{
    private readonly Parameter _parameter;
    private readonly bool _adam;
    private readonly double _learningRate, _beta1, _beta2, _epsilon, _momentum, _weightDecay;
    private Tensor? _first;  // Adam: exp_avg; SGD: the momentum buffer (null until the first step, as in PyTorch)
    private Tensor? _second; // Adam: exp_avg_sq
    private long _steps;

    private LogitOptimizer(Parameter parameter, bool adam, double learningRate, double beta1, double beta2, double epsilon, double momentum, double weightDecay)
    {
        _parameter = parameter;
        _adam = adam;
        _learningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
        _momentum = momentum;
        _weightDecay = weightDecay;
    }

    /// <summary>Adam (Kingma and Ba), no weight decay, epsilon 1e-8 as in PyTorch.</summary>
    public static LogitOptimizer Adam(Parameter parameter, double learningRate, double beta1, double beta2)
        => new(parameter, adam: true, learningRate, beta1, beta2, epsilon: 1e-8, momentum: 0, weightDecay: 0);

    /// <summary>SGD: g += decay p; buffer = g on the first step, else momentum buffer + g; p -= lr buffer.</summary>
    public static LogitOptimizer Sgd(Parameter parameter, double learningRate, double momentum, double weightDecay = 0)
        => new(parameter, adam: false, learningRate, 0, 0, 0, momentum, weightDecay);

    /// <summary>Steps taken.</summary>
    public long Steps => _steps;

    /// <summary>Sets the parameter's gradient to zero (creating it when it does not exist yet).</summary>
    public void ZeroGrad()
    {
        using var noGrad = no_grad();
        if (_parameter.grad is null) _parameter.grad = zeros_like(_parameter).DetachFromDisposeScope();
        else _parameter.grad.zero_();
    }

    /// <summary>One step on the parameter's current gradient (nothing when it has none).</summary>
    public void Step()
    {
        var grad = _parameter.grad;
        if (grad is null) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _steps++;
        if (_adam) AdamStep(grad); else SgdStep(grad);
    }

    private void AdamStep(Tensor grad)
    {
        _first ??= zeros_like(_parameter).DetachFromDisposeScope();
        _second ??= zeros_like(_parameter).DetachFromDisposeScope();
        double correction1 = 1 - Math.Pow(_beta1, _steps), correction2 = 1 - Math.Pow(_beta2, _steps);
        using Scalar beta1 = _beta1.ToScalar(), oneMinusBeta1 = (1 - _beta1).ToScalar();
        using Scalar beta2 = _beta2.ToScalar(), oneMinusBeta2 = (1 - _beta2).ToScalar();
        using Scalar rootCorrection2 = Math.Sqrt(correction2).ToScalar(), epsilon = _epsilon.ToScalar();
        using Scalar step = (-_learningRate / correction1).ToScalar();
        _first.mul_(beta1).add_(grad, alpha: oneMinusBeta1);
        _second.mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
        var denominator = _second.sqrt().div_(rootCorrection2).add_(epsilon, Scalars.One);
        _parameter.addcdiv_(_first, denominator, value: step);
    }

    private void SgdStep(Tensor grad)
    {
        using Scalar decay = _weightDecay.ToScalar(), momentum = _momentum.ToScalar(), step = (-_learningRate).ToScalar();
        if (_weightDecay != 0) grad = grad.add(_parameter, alpha: decay);
        if (_momentum != 0)
        {
            if (_first is null) _first = grad.clone().DetachFromDisposeScope();
            else _first.mul_(momentum).add_(grad, Scalars.One);
            grad = _first;
        }
        _parameter.add_(grad, alpha: step);
    }

    /// <summary>Writes the step count and the state tensors (for checkpoints).</summary>
    public void WriteState(BinaryWriter writer)
    {
        writer.Write(_steps);
        Write(writer, _first);
        Write(writer, _second);
    }

    /// <summary>Reads what <see cref="WriteState"/> wrote; throws <see cref="InvalidDataException"/> on a size mismatch.</summary>
    public void ReadState(BinaryReader reader)
    {
        long steps = reader.ReadInt64();
        if (steps < 0) throw new InvalidDataException($"The saved optimizer state has {steps} steps.");
        var first = Read(reader);
        var second = Read(reader);
        _first?.Dispose();
        _second?.Dispose();
        (_steps, _first, _second) = (steps, first, second);
    }

    private static void Write(BinaryWriter writer, Tensor? state)
    {
        if (state is null) { writer.Write(-1); return; }
        var values = state.detach().cpu().data<float>().ToArray();
        writer.Write(values.Length);
        foreach (var v in values) writer.Write(v);
    }

    private Tensor? Read(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0) return null;
        if (count != _parameter.numel())
            throw new InvalidDataException($"The saved optimizer state has {count} values; the parameter has {_parameter.numel()}.");
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = reader.ReadSingle();
        return tensor(values, _parameter.shape, device: _parameter.device).DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _first?.Dispose();
        _second?.Dispose();
    }
}
