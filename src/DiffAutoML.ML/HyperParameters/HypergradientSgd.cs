using DiffAutoML.ML.Native;
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
/// The learned hyper-parameters, their Adam state and the records of their updates live on the parameters' device:
/// neither <see cref="Step"/> nor <see cref="HyperStep"/> reads anything to the host, so on a GPU they never make the
/// CPU wait for the device (issue 8). The host reads them when asked (<see cref="WeightDecay"/>,
/// <see cref="CurrentLearningRate"/>, <see cref="Trajectory"/>, <see cref="SaveState"/>: a training loop's progress
/// reports and checkpoints) and when 256 update records have gathered.
/// </remarks>
public sealed class HypergradientSgd : IDisposable
{
    private const int RecordBuffer = 256;
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    private readonly Parameter[] _parameters;
    private readonly bool[] _decayed;
    private readonly Tensor?[] _velocity;
    private readonly bool[] _updated;
    private readonly bool[] _hasVelocity;
    private readonly Device _device;
    // On CUDA, every parameter and momentum buffer as a view of one buffer each, decayed parameters first: a step whose
    // parameters all have gradients is then a few operations on the whole buffers instead of four per parameter (each a
    // kernel launch, and a small-image step on a GPU is bound by launches). Null on the CPU, where the whole-buffer step's
    // temporary copy of the gradients cost more than the per-parameter calls it saves (weight-step benchmark), or when
    // the parameters do not share a dtype and device.
    private readonly Tensor? _flatWeights, _flatVelocity;
    private readonly int[] _flatOrder;
    private readonly long _decayedLength;
    // float64 [2] on the device, element 0 for lambda and 1 for the multiplier: log values, Adam's moments, bounds of
    // the log values, and whether each is tuned; and float64 0-dim counts of Adam steps and of skipped updates.
    private readonly Tensor _logEta, _adamMean, _adamSquare, _lowerBound, _upperBound, _tuned, _adamSteps, _skipped;
    private readonly Tensor _lastLearningRate; // float64 0-dim: the learning rate of the last Step
    // Update records not yet read: rows (lambda, lr, multiplier, dL/dlambda, dL/dlr) and their steps.
    private readonly Tensor _records;
    private readonly List<long> _recordSteps = new();
    private readonly List<HyperparameterRecord> _trajectory = new();

    /// <summary>Creates the optimizer. Parameters with two or more dimensions (convolution and linear weights) are
    /// decayed; batch-norm parameters and biases (one dimension) are not. On CUDA the parameters are moved into one
    /// buffer (their values and their modules' references stay), so move a module to its device before creating its
    /// optimizer.</summary>
    public HypergradientSgd(IEnumerable<Parameter> parameters, HyperparameterOptions options, LearningRateSchedule schedule)
        : this(parameters, options, schedule, flatten: null)
    {
    }

    /// <param name="parameters">The parameters; on CUDA (or with <paramref name="flatten"/> true) they are moved into
    /// one buffer (their values and their modules' references stay; what they point to changes), so move a module to its
    /// device before creating its optimizer.</param>
    /// <param name="options">The settings.</param>
    /// <param name="schedule">The learning-rate schedule.</param>
    /// <param name="flatten">Whether to move the parameters into one buffer; null: on CUDA only (tests and benchmarks
    /// compare both forms on one device).</param>
    internal HypergradientSgd(IEnumerable<Parameter> parameters, HyperparameterOptions options, LearningRateSchedule schedule, bool? flatten)
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
        _hasVelocity = new bool[_parameters.Length];
        _device = _parameters.Length > 0 ? _parameters[0].device : CPU;
        _flatOrder = Enumerable.Range(0, _parameters.Length).OrderBy(i => _decayed[i] ? 0 : 1).ToArray();
        _decayedLength = _parameters.Where((_, i) => _decayed[i]).Sum(p => p.numel());
        if ((flatten ?? _device.type == DeviceType.CUDA) && _parameters.Length > 0 && _parameters.All(p => p.dtype == _parameters[0].dtype && p.device_type == _device.type && p.device_index == _device.index))
            (_flatWeights, _flatVelocity) = Flatten();
        Tensor Pair(double decay, double multiplier) => tensor(new[] { decay, multiplier }, device: _device).DetachFromDisposeScope();
        _logEta = Pair(Math.Log(Options.WeightDecay), 0);
        _adamMean = Pair(0, 0);
        _adamSquare = Pair(0, 0);
        _lowerBound = Pair(Math.Log(Options.MinWeightDecay), Math.Log(Options.MinLearningRateMultiplier));
        _upperBound = Pair(Math.Log(Options.MaxWeightDecay), Math.Log(Options.MaxLearningRateMultiplier));
        _tuned = tensor(new[] { Options.TuneWeightDecay, Options.TuneLearningRate }, device: _device).DetachFromDisposeScope();
        _adamSteps = zeros(Array.Empty<long>(), ScalarType.Float64, _device).DetachFromDisposeScope();
        _skipped = zeros(Array.Empty<long>(), ScalarType.Float64, _device).DetachFromDisposeScope();
        _lastLearningRate = zeros(Array.Empty<long>(), ScalarType.Float64, _device).DetachFromDisposeScope();
        _records = zeros(new long[] { RecordBuffer, 5 }, ScalarType.Float64, _device).DetachFromDisposeScope();
    }

    /// <summary>The settings (a copy).</summary>
    public HyperparameterOptions Options { get; }

    /// <summary>The learning-rate schedule the learned multiplier scales.</summary>
    public LearningRateSchedule Schedule { get; private set; }

    /// <summary>Replaces the schedule (a run shortened to fit a time budget); the step count is kept.</summary>
    public void Reschedule(LearningRateSchedule schedule) => Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));

    /// <summary>Whether the parameters and momentum buffers were moved into one buffer each.</summary>
    internal bool UsesOneBuffer => _flatWeights is not null;

    /// <summary>Steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>Current weight decay lambda (a host read).</summary>
    public double WeightDecay => Math.Exp(ReadEta()[0]);

    /// <summary>Current learned multiplier of the schedule (1 unless the learning rate is tuned; a host read).</summary>
    public double LearningRateMultiplier => Math.Exp(ReadEta()[1]);

    /// <summary>Learning rate the next <see cref="Step"/> uses (a host read).</summary>
    public double CurrentLearningRate => LearningRateMultiplier * Schedule.At(StepCount);

    /// <summary>Hyper-parameter updates so far (reads the records still on the device).</summary>
    public IReadOnlyList<HyperparameterRecord> Trajectory
    {
        get
        {
            FlushRecords();
            return _trajectory;
        }
    }

    /// <summary>Hypergradient updates skipped because the validation gradients were not finite (a host read).</summary>
    public int SkippedHyperSteps => (int)Read(_skipped)[0];

    /// <summary>Whether eta should be updated after the step just taken.</summary>
    public bool HyperStepDue => (Options.TuneWeightDecay || Options.TuneLearningRate) && StepCount > 0 && StepCount % Options.UpdateEvery == 0;

    private double[] ReadEta() => Read(_logEta);

    private static double[] Read(Tensor state)
    {
        using var host = state.cpu();
        return host.data<double>().ToArray();
    }

    /// <summary>The one-buffer weights and momentum buffers when the last <see cref="Step"/> updated every parameter
    /// (so the whole buffers can be used); otherwise null.</summary>
    private (Tensor Weights, Tensor Velocity)? WholeBuffers()
        => _flatWeights is not null && _flatVelocity is not null && Array.TrueForAll(_updated, u => u) ? (_flatWeights, _flatVelocity) : null;

    /// <summary>Copies every parameter into one buffer (decayed first) and points the parameter at its part; the same
    /// layout for the momentum buffers.</summary>
    private (Tensor Weights, Tensor Velocity) Flatten()
    {
        using var noGrad = no_grad();
        var first = _parameters[0];
        long total = _parameters.Sum(p => p.numel());
        var weights = empty(new[] { total }, first.dtype, _device).DetachFromDisposeScope();
        var velocity = zeros(new[] { total }, first.dtype, _device).DetachFromDisposeScope();
        long offset = 0;
        foreach (int i in _flatOrder)
        {
            var p = _parameters[i];
            long n = p.numel();
            using (var part = weights.narrow(0, offset, n))
            {
                using var values = p.reshape(-1);
                part.copy_(values);
                using var shaped = part.view(p.shape);
                p.set_(shaped);
            }
            _velocity[i] = velocity.narrow(0, offset, n).view(p.shape).DetachFromDisposeScope();
            offset += n;
        }
        return (weights, velocity);
    }

    /// <summary>
    /// Paper eq. 6 for every parameter with a gradient: v_{t+1} = mu v_t + g_t + lambda theta_t (lambda only for
    /// decayed parameters); theta_{t+1} = theta_t - lr v_{t+1}. lambda and lr stay on the device. When every parameter
    /// has a gradient and they share one buffer (CUDA), the update runs on the whole buffer.
    /// </summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using Scalar momentum = Options.Momentum.ToScalar(), scheduled = Schedule.At(StepCount).ToScalar();
        var eta = _logEta.exp();
        var decay = eta[0];
        var learningRate = eta[1].mul(scheduled);
        var descent = learningRate.neg();
        var grads = _parameters.Select(p => p.grad).ToArray();
        try
        {
            for (int i = 0; i < _parameters.Length; i++) _updated[i] = grads[i] is not null;
            if (WholeBuffers() is (var weights, var velocity))
            {
                velocity.mul_(momentum).add_(cat(_flatOrder.Select(i => grads[i]!.reshape(-1)).ToArray()), Scalars.One);
                if (_decayedLength > 0) velocity.narrow(0, 0, _decayedLength).addcmul_(weights.narrow(0, 0, _decayedLength), decay, Scalars.Of(1.0));
                weights.addcmul_(velocity, descent, Scalars.Of(1.0));
                Array.Fill(_hasVelocity, true);
            }
            else
            {
                for (int i = 0; i < _parameters.Length; i++)
                {
                    var p = _parameters[i];
                    var grad = grads[i];
                    if (grad is null) continue;
                    var v = _velocity[i] ??= zeros_like(p).DetachFromDisposeScope();
                    v.mul_(momentum).add_(grad, Scalars.One);
                    if (_decayed[i]) v.addcmul_(p, decay, Scalars.Of(1.0));
                    p.addcmul_(v, descent, Scalars.Of(1.0));
                    _hasVelocity[i] = true;
                }
            }
        }
        finally
        {
            foreach (var grad in grads) grad?.Dispose();
        }
        _lastLearningRate.copy_(learningRate);
        StepCount++;
    }

    /// <summary>
    /// Paper eq. 7, with theta_t and v_t held constant and the gradients of the validation loss at theta_{t+1} in the
    /// parameters' .grad: dL/dlambda = -lr &lt;g_val, theta_t&gt; (decayed parameters), dL/dlr = -&lt;g_val, v_{t+1}&gt;.
    /// theta_t is recovered as theta_{t+1} + lr v_{t+1}, so no copy of the weights is kept. Reads both to the host.
    /// </summary>
    public (double WeightDecay, double LearningRate) Hypergradients()
    {
        using var scope = NewDisposeScope();
        var both = HypergradientsOnDevice().cpu().data<double>().ToArray();
        return (both[0], both[1]);
    }

    /// <summary><see cref="Hypergradients"/> as float64 [2] on the device (dL/dlambda, dL/dlr).</summary>
    private Tensor HypergradientsOnDevice()
    {
        if (StepCount == 0) throw new InvalidOperationException("Take a Step before computing hypergradients.");
        using var noGrad = no_grad();
        var lr = _lastLearningRate;
        // The dot products run once over the concatenated parameters: a per-parameter loop of small tensor calls cost
        // more than a small validation batch's forward and backward on the CPU (about 150 parameter tensors). Decayed
        // parameters come first, so their part of the concatenation is a prefix.
        if (WholeBuffers() is (var flatWeights, var flatVelocity))
        {
            var grads = _flatOrder.Select(i => _parameters[i].grad).ToArray();
            if (Array.TrueForAll(grads, grad => grad is not null)) // the weights and momentum buffers are one vector each already
                return HypergradientsOf(cat(grads.Select(grad => grad!.reshape(-1)).ToArray()), flatVelocity, flatWeights.narrow(0, 0, _decayedLength), lr);
        }
        var order = Enumerable.Range(0, _parameters.Length).Where(i => _updated[i]).OrderBy(i => _decayed[i] ? 0 : 1).ToArray();
        var gradients = new List<Tensor>(order.Length);
        var velocities = new List<Tensor>(order.Length);
        var decayedWeights = new List<Tensor>(order.Length);
        foreach (int i in order)
        {
            var grad = _parameters[i].grad;
            if (grad is null) continue;
            gradients.Add(grad.reshape(-1));
            velocities.Add(_velocity[i]!.reshape(-1));
            if (_decayed[i]) decayedWeights.Add(_parameters[i].detach().reshape(-1));
        }
        if (gradients.Count == 0) return zeros(new long[] { 2 }, ScalarType.Float64, _device);
        var weights = decayedWeights.Count == 0 ? zeros(0, gradients[0].dtype, _device) : cat(decayedWeights);
        return HypergradientsOf(cat(gradients), cat(velocities), weights, lr);
    }

    /// <summary>(-lr &lt;g, theta_t&gt;, -&lt;g, v&gt;) in float64 from the flattened gradients, momentum buffers and decayed
    /// weights theta_{t+1} (the prefix of the first two), with theta_t = theta_{t+1} + lr v.</summary>
    private static Tensor HypergradientsOf(Tensor gradients, Tensor velocities, Tensor decayedWeights, Tensor lr)
    {
        var g = gradients.to(ScalarType.Float64);
        var v = velocities.to(ScalarType.Float64);
        long decayed = decayedWeights.numel();
        var gV = g.dot(v);
        var gTheta = zeros_like(gV);
        if (decayed > 0)
        {
            var gd = g.narrow(0, 0, decayed);
            gTheta = gd.dot(decayedWeights.to(ScalarType.Float64)).add_(gd.dot(v.narrow(0, 0, decayed)).mul_(lr), Scalars.One); // <g, theta_t>
        }
        return stack(new[] { -lr * gTheta, -gV });
    }

    /// <summary>
    /// Updates log(lambda) and log(multiplier) by one Adam step on the hypergradients (chain rule: d/dlog x = x d/dx),
    /// clamps them to their bounds and records the values. Non-finite hypergradients skip the update. All on the
    /// device: nothing is read to the host.
    /// </summary>
    public void HyperStep()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hypergradients = HypergradientsOnDevice();
        var eta = _logEta.exp();
        var gradient = hypergradients * stack(new[] { eta[0], _lastLearningRate });
        var finite = hypergradients.isfinite().all();
        var update = finite.logical_and(_tuned);
        var steps = _adamSteps.add(finite.to(ScalarType.Float64), Scalars.One);
        var mean = (_adamMean * Scalars.Of(Beta1)).add_(gradient * Scalars.Of(1 - Beta1), Scalars.One);
        var square = (_adamSquare * Scalars.Of(Beta2)).add_(gradient.square() * Scalars.Of(1 - Beta2), Scalars.One);
        var meanHat = mean / full_like(steps, Scalars.Of(Beta1)).pow_(steps).neg_().add_(Scalars.One, Scalars.One); // 1 - beta1^t
        var squareHat = square / full_like(steps, Scalars.Of(Beta2)).pow_(steps).neg_().add_(Scalars.One, Scalars.One);
        using var hyperRate = Options.HyperLearningRate.ToScalar();
        var moved = (_logEta - meanHat * hyperRate / squareHat.sqrt().add_(Scalars.Of(Epsilon), Scalars.One)).clamp(_lowerBound, _upperBound);
        _logEta.copy_(where(update, moved, _logEta));
        _adamMean.copy_(where(update, mean, _adamMean));
        _adamSquare.copy_(where(update, square, _adamSquare));
        _adamSteps.copy_(steps);
        _skipped.add_(finite.logical_not().to(ScalarType.Float64), Scalars.One);
        if (_recordSteps.Count == RecordBuffer) FlushRecords();
        var after = _logEta.exp();
        _records[_recordSteps.Count].copy_(stack(new[] { after[0], _lastLearningRate, after[1], hypergradients[0], hypergradients[1] }));
        _recordSteps.Add(StepCount - 1);
    }

    /// <summary>Reads the update records gathered on the device (one host read) into <see cref="Trajectory"/>.</summary>
    private void FlushRecords()
    {
        if (_recordSteps.Count == 0) return;
        using var scope = NewDisposeScope();
        var rows = _records.narrow(0, 0, _recordSteps.Count).cpu().data<double>().ToArray();
        for (int i = 0; i < _recordSteps.Count; i++)
            _trajectory.Add(new HyperparameterRecord(_recordSteps[i], rows[5 * i], rows[5 * i + 1], rows[5 * i + 2], rows[5 * i + 3], rows[5 * i + 4]));
        _recordSteps.Clear();
    }

    /// <summary>The optimizer's scalar state, for checkpoints (a host read).</summary>
    public HypergradientSgdState SaveState()
    {
        FlushRecords();
        var (log, mean, square) = (Read(_logEta), Read(_adamMean), Read(_adamSquare));
        return new HypergradientSgdState(StepCount, log[0], log[1], mean[0], square[0], mean[1], square[1],
            (long)Read(_adamSteps)[0], _trajectory.ToArray());
    }

    /// <summary>Restores the scalar state saved by <see cref="SaveState"/>.</summary>
    public void LoadState(HypergradientSgdState state)
    {
        using var scope = NewDisposeScope();
        StepCount = state.StepCount;
        _logEta.copy_(tensor(new[] { state.LogWeightDecay, state.LogLearningRateMultiplier }));
        _adamMean.copy_(tensor(new[] { state.AdamMeanDecay, state.AdamMeanMultiplier }));
        _adamSquare.copy_(tensor(new[] { state.AdamSquareDecay, state.AdamSquareMultiplier }));
        using var adamSteps = ((double)state.AdamSteps).ToScalar();
        _adamSteps.fill_(adamSteps);
        _recordSteps.Clear();
        _trajectory.Clear();
        _trajectory.AddRange(state.Trajectory);
    }

    /// <summary>Momentum buffers (null for parameters never updated), in parameter order, for checkpoints.</summary>
    public IReadOnlyList<Tensor?> Velocities => _velocity.Select((v, i) => _hasVelocity[i] ? v : null).ToArray();

    /// <summary>Sets momentum buffer <paramref name="index"/> (a copy is kept), for resuming.</summary>
    public void LoadVelocity(int index, Tensor? velocity)
    {
        _hasVelocity[index] = velocity is not null;
        if (_flatVelocity is not null)
        {
            using var noGrad = no_grad();
            var buffer = _velocity[index]!;
            if (velocity is null) buffer.zero_();
            else if (!velocity.shape.SequenceEqual(buffer.shape))
                throw new InvalidDataException($"Momentum buffer {index} has shape [{string.Join(", ", velocity.shape)}]; its parameter has [{string.Join(", ", buffer.shape)}].");
            else buffer.copy_(velocity);
            return;
        }
        _velocity[index]?.Dispose();
        _velocity[index] = velocity?.to(_parameters[index].device).clone().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in _velocity) v?.Dispose();
        _flatWeights?.Dispose();
        _flatVelocity?.Dispose();
        foreach (var t in new[] { _logEta, _adamMean, _adamSquare, _lowerBound, _upperBound, _tuned, _adamSteps, _skipped, _lastLearningRate, _records }) t.Dispose();
    }
}
