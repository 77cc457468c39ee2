using System.Diagnostics;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Reporting;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Training;

/// <summary>
/// The paper's Algorithm 1: one network trained while the augmentation policy (tau), the architecture (alpha) and the
/// hyper-parameters (eta) are learned with it. Each step: draw a training batch; augment it with per-sample
/// sub-policies; forward the sampled path; one backward pass gives the weights' gradient, dL/dZ for alpha (eq. 5)
/// and the per-sample losses for tau (eq. 2); update tau, alpha and the weights (eq. 6); then a held-out, un-augmented
/// validation batch at the new weights gives the hypergradients (eq. 7, <see cref="HypergradientValidationPass"/>).
/// After the search stage the architecture is fixed, its batch-norm statistics are re-estimated, and the child keeps
/// training (tuning stage) with the same augmentation and hyper-parameter learning. The final weights are the model:
/// no retraining.
/// </summary>
internal sealed class JointSearch : IDisposable
{
    private const string SearchStage = "search", TuningStage = "tuning";

    private readonly JointSearchSetup _s;
    private readonly DiffAutoMLOptions _o;
    private readonly TestTimeViews _views; // how the returned model will score (Finish, FinishingReserve)
    private readonly bool _augment, _searchArchitecture, _tune;
    private readonly ScalarType? _computeType; // the training forwards' arithmetic (JointSearchSetup.ComputeType)
    private readonly int _batchSize;
    private readonly BatchAssembler _train, _validation;
    private readonly MiniBatchSampler _sampler, _validationSampler;
    private readonly CheckpointStore? _checkpoints;
    private readonly List<EpochRecord> _history = new();
    private readonly Tensor _lossSum, _correct;
    private AugmentationPolicy? _policy;
    private readonly BaselineAugmentation _baseline;
    private ArchitectureParameters? _alpha;
    private Supernet? _supernet;
    private ChildNetwork? _child;
    private HypergradientSgd _sgd = null!;
    private Generator? _augmentGenerator;
    private Generator? _dropoutGenerator; // null on CUDA (ClassifierDropout)
    private string _stage = TuningStage;
    private int _plannedEpochs, _searchEpochs, _epochsCompleted;
    private BudgetPlan? _reportedPlan; // the last re-plan logged
    private readonly EpochDurations _epochDurations = new();
    private long _step;
    private int _seen;
    private long _windowStart;
    private byte[]? _best;
    private int _bestEpoch;
    private double _bestAccuracy = double.NegativeInfinity, _bestLoss = double.NaN;
    private double _searchSeconds, _tuningSeconds, _evaluationSeconds;
    private double _searchDeadline = double.PositiveInfinity; // seconds on the run's clock (BudgetPlan.SearchDeadlineShare)
    private bool _resumed;

    public JointSearch(JointSearchSetup setup)
    {
        _s = setup;
        _o = setup.Options;
        _views = TestTimeViews.From(_o.Augmentation);
        _augment = _o.Components.HasFlag(DiffAutoMLComponents.Augmentation);
        _searchArchitecture = _o.Components.HasFlag(DiffAutoMLComponents.Architecture);
        _tune = _o.Components.HasFlag(DiffAutoMLComponents.HyperParameters);
        _computeType = setup.ComputeType;
        _baseline = new BaselineAugmentation(_o.Augmentation, setup.TrainCache.Height, setup.TrainCache.Width);
        _train = new BatchAssembler(setup.TrainCache, setup.Device);
        _validation = ReferenceEquals(setup.TrainCache, setup.ValidationCache) ? _train : new BatchAssembler(setup.ValidationCache, setup.Device);
        _batchSize = Math.Min(_o.BatchSize, setup.TrainRows.Length);
        _sampler = new MiniBatchSampler(setup.TrainRows, _batchSize, _o.Seed, dropLast: true);
        _validationSampler = new MiniBatchSampler(setup.ValidationRows, Math.Min(_o.EffectiveValidationBatchSize, setup.ValidationRows.Length), _o.Seed + 7, dropLast: true);
        _checkpoints = _o.CheckpointFolder is null ? null : new CheckpointStore(_o.CheckpointFolder);
        _lossSum = zeros(1, ScalarType.Float64, setup.Device).DetachFromDisposeScope();
        _correct = zeros(1, ScalarType.Int64, setup.Device).DetachFromDisposeScope();
    }

    private nn.Module<Tensor, Tensor> Network => (nn.Module<Tensor, Tensor>?)_supernet ?? _child!;

    private long StepsPerEpoch => _sampler.BatchesPerEpoch;

    public JointSearchOutcome Run()
    {
        GlobalTorchRandom.Seeded(_o.Seed, BuildComponents); // the initial weights: not interleaved with another Fit's draws
        _resumed = TryResume();
        if (_supernet is not null && _o.Architecture.MaxRelativeCost is not null && _alpha!.MeasuredCosts is null) MeasureBlockCosts();
        // With a time budget the plan is sized to fit it (never beyond Epochs), so that the search stage ends and the
        // child is tuned before the budget runs out.
        if (!_resumed) PlanSchedule(_o.TimeBudget is null ? _o.Epochs!.Value : EstimateEpochs());
        SetSearchDeadline();
        string stoppedBy = "completed";
        var stageClock = Stopwatch.StartNew();
        for (int epoch = _epochsCompleted; epoch < _plannedEpochs && stoppedBy == "completed"; epoch++)
        {
            StartEpoch(epoch);
            var epochClock = Stopwatch.StartNew();
            long epochImages = 0, epochSteps = 0;
            double epochLoss = 0, epochCorrect = 0;
            bool searchCut = false;
            foreach (var rows in _sampler.Epoch(epoch))
            {
                _o.CancellationToken.ThrowIfCancellationRequested();
                if (OverBudget()) { stoppedBy = "time budget"; break; }
                if (epochSteps > 0 && PastSearchDeadline(epoch + 1)) { searchCut = true; break; }
                TrainStep(rows, epoch);
                epochSteps++;
                epochImages += rows.Length;
                if (_step % _o.ProgressEverySteps == 0)
                {
                    var (loss, accuracy) = ReadWindow();
                    epochLoss += loss * _lastWindowImages;
                    epochCorrect += accuracy * _lastWindowImages;
                    Report(epoch, false, loss, accuracy);
                }
            }
            if (_seen > 0)
            {
                var (loss, accuracy) = ReadWindow();
                epochLoss += loss * _lastWindowImages;
                epochCorrect += accuracy * _lastWindowImages;
            }
            if (stoppedBy != "completed") break;
            double trainingSeconds = epochClock.Elapsed.TotalSeconds; // the images per second of training, without the validation pass
            AddStageTime(stageClock);
            var (validationLoss, validationAccuracy) = EvaluateValidation();
            _epochsCompleted = epoch + 1;
            var record = Record(epoch + 1, epochLoss / Math.Max(1, epochImages), epochCorrect / Math.Max(1, epochImages),
                validationLoss, validationAccuracy, epochImages / trainingSeconds);
            _history.Add(record);
            if (_stage == TuningStage && validationAccuracy > _bestAccuracy) KeepBest(epoch + 1, validationAccuracy, validationLoss);
            // A search epoch cut short counts at the duration a whole one would have taken (its steps scaled, its
            // validation pass as it was), for the plan of what follows.
            double epochSeconds = epochClock.Elapsed.TotalSeconds;
            _epochDurations.Add(searchCut ? epochSeconds + trainingSeconds * ((double)StepsPerEpoch / epochSteps - 1) : epochSeconds);
            bool endSearch = searchCut || PastSearchDeadline(_epochsCompleted);
            if (searchCut || (endSearch && _epochsCompleted < _searchEpochs))
                _s.Log(searchCut
                    ? $"Time budget: the search ends during epoch {_epochsCompleted}, after {epochSteps} of its {StepsPerEpoch} steps, to leave time to tune the child."
                    : $"Time budget: the search ends after epoch {_epochsCompleted}, to leave time to tune the child.");
            Replan(endSearch);
            if (_stage == SearchStage && _epochsCompleted == _searchEpochs) EndSearch(stageClock);
            SaveCheckpoint();
            Report(epoch, true, record.TrainLoss, record.TrainAccuracy, record);
        }
        AddStageTime(stageClock);
        if (_step == 0)
            throw new TimeoutException($"The time budget of {_o.TimeBudget} ran out before the first training step: loading the data and " +
                $"preparing the network took {_s.Clock.Elapsed.TotalSeconds:F0} s. Give a longer {nameof(DiffAutoMLOptions.TimeBudget)}, " +
                $"or set {nameof(DiffAutoMLOptions.Epochs)} without one.");
        if (_epochsCompleted == 0)
            _s.Log($"Warning: the time budget ended the run during its first epoch, after {_step} of {StepsPerEpoch} steps; the model is " +
                   "barely trained. A longer budget gives a better model.");
        if (_stage == SearchStage) EndSearch(stageClock);
        return Finish(stoppedBy);
    }

    private double _lastWindowImages;

    private void BuildComponents()
    {
        // Modules are built on the CPU, then moved.
        if (_searchArchitecture)
        {
            _supernet = new Supernet(_s.Space) { RecordGateGradients = true, TrainingComputeType = _computeType };
            _supernet.to(_s.Device);
            _alpha = new ArchitectureParameters(_s.Space, _o.Architecture, _s.Device, _o.Seed);
            _stage = SearchStage;
        }
        else
        {
            var path = _o.FixedArchitecture is null ? new int[_s.Space.Layers.Count] : BlockChoices.Parse(_o.FixedArchitecture);
            if (path.Length != _s.Space.Layers.Count)
                throw new ArgumentOutOfRangeException(nameof(_o.FixedArchitecture), _o.FixedArchitecture,
                    $"FixedArchitecture names {path.Length} blocks; the search space has {_s.Space.Layers.Count} layers.");
            _child = new ChildNetwork(_s.Space, path) { TrainingComputeType = _computeType };
            _child.to(_s.Device);
            _stage = TuningStage;
            _s.Log($"Fixed architecture: {DescribeChild(path, "")}.");
        }
        if (_augment) _policy = new AugmentationPolicy(_o.Augmentation, _s.Device);
    }

    /// <summary>Share of the time budget left after loading the data that timing the candidate blocks may take.</summary>
    internal const double BlockCostBudgetShare = 0.1;

    /// <summary>Times every candidate block on the training device for <see cref="ArchitectureSearchOptions.MaxRelativeCost"/>
    /// (within the time budget: it runs before the plan is sized, and under a budget takes at most
    /// <see cref="BlockCostBudgetShare"/> of what is left of it).</summary>
    private void MeasureBlockCosts()
    {
        var clock = Stopwatch.StartNew();
        BlockCostTable costs;
        int batch = _batchSize;
        if (_o.TimeBudget is TimeSpan budget)
        {
            // A limit already used up keeps the trial's table (MeasureWithin).
            (costs, batch) = BlockCostTable.MeasureWithin(_supernet!, _batchSize, (budget - _s.Clock.Elapsed) * BlockCostBudgetShare,
                _o.Architecture.Candidates, _o.CancellationToken);
        }
        else
        {
            costs = BlockCostTable.Measure(_supernet!, _batchSize, only: _o.Architecture.Candidates, cancellation: _o.CancellationToken);
        }
        _alpha!.UseMeasuredCosts(costs);
        var relative = Enum.GetValues<BlockChoice>().Where(_o.Architecture.IsCandidate)
            .Select(c => $"all-{c.ShortName()} {_alpha.RelativeCost(Enumerable.Repeat((int)c, costs.Layers).ToArray()):F2}x");
        var reference = _o.Architecture.Candidates is null ? "the cheapest child" : "the cheapest child of the candidate blocks";
        var atBatch = batch == _batchSize ? "" : $" (at batch {batch}: the training batch's {_batchSize} would not fit in {BlockCostBudgetShare:P0} of the time budget)";
        _s.Log($"Measured every candidate block in {clock.Elapsed.TotalSeconds:F1} s{atBatch}; training cost relative to {reference}: {string.Join(", ", relative)}; " +
               $"the search keeps the child within {_o.Architecture.MaxRelativeCost:G3}x.");
    }

    private void PlanSchedule(int epochs)
    {
        (_plannedEpochs, _searchEpochs) = BudgetPlan.Initial(epochs, _searchArchitecture, _o.SearchFraction, _o.TimeBudget is not null, _o.Epochs);
        if (_o.TimeBudget is not null) _reportedPlan = new BudgetPlan(_plannedEpochs, _searchEpochs); // logged by the estimate
        CreateOptimizer(NewSchedule(), null);
    }

    private LearningRateSchedule NewSchedule()
        => LearningRateSchedule.ForPlan(_o.HyperParameters.LearningRate, (int)Math.Round(_o.WarmupEpochs * StepsPerEpoch), (int)(_plannedEpochs * StepsPerEpoch));

    /// <summary>A new optimizer over the current network's parameters.</summary>
    private void CreateOptimizer(LearningRateSchedule schedule, HypergradientSgdState? state)
    {
        var options = _o.HyperParameters with
        {
            TuneWeightDecay = _tune && _o.HyperParameters.TuneWeightDecay,
            TuneLearningRate = _tune && _o.HyperParameters.TuneLearningRate,
        };
        _sgd?.Dispose();
        _sgd = new HypergradientSgd(Network.parameters(), options, schedule);
        if (state is not null) _sgd.LoadState(state);
    }

    /// <summary>Sizes the run to the time budget from the measured cost of a few forward and backward passes.</summary>
    private int EstimateEpochs()
    {
        var budget = _o.TimeBudget!.Value.TotalSeconds - _s.Clock.Elapsed.TotalSeconds;
        var rows = _sampler.Epoch(0).First();
        var net = Network;
        net.eval(); // the probes must not change batch-norm statistics
        if (_supernet is not null)
        {
            _supernet.Path = _alpha!.ArgmaxPath();
            _supernet.RecordGateGradients = false;
        }
        var probes = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var (x, y) = _train.Gather(rows);
            using (var generator = new Generator(1))
                x = Augment(x, generator, out _);
            nn.functional.cross_entropy(net.forward(_s.Statistics.Normalize(x)), y).backward();
            _ = y.cpu();
            if (i >= 2) probes.Add(clock.Elapsed.TotalSeconds); // the first passes pay one-off start-up costs
        }
        net.zero_grad();
        if (_supernet is not null) _supernet.RecordGateGradients = true;
        probes.Sort();
        double step = probes[probes.Count / 2] * (_tune ? 1.5 : 1.1) * (_searchArchitecture ? 1.1 : 1.0);
        double evaluation = _s.ValidationRows.Length / (double)rows.Length * step * 0.3;
        int epochs = (int)Math.Floor(0.85 * budget / (StepsPerEpoch * step + evaluation));
        _s.Log($"Time budget {TimeSpan.FromSeconds(budget):hh\\:mm\\:ss}: about {step * 1000:F0} ms per step, {StepsPerEpoch} steps per epoch -> {Math.Max(1, epochs)} epochs.");
        return Math.Max(1, epochs);
    }

    /// <summary>
    /// With a time budget, re-sizes the plan after each epoch (<see cref="BudgetPlan"/>) from the epochs measured so far
    /// (<see cref="EpochDurations"/>: the median of the stage's last three, so that one slow epoch does not cut the plan),
    /// and re-fits the schedule from the current step (<see cref="LearningRateSchedule.RefitFrom"/>): the learning rate
    /// never jumps.
    /// </summary>
    private void Replan(bool endSearch)
    {
        if (_o.TimeBudget is not TimeSpan budget) return;
        double left = budget.TotalSeconds - _s.Clock.Elapsed.TotalSeconds - FinishingReserve(budget);
        double epochSeconds = _epochDurations.Expected;
        if (new BudgetPlan(_plannedEpochs, _searchEpochs).Replan(left, epochSeconds, _epochsCompleted, _stage == SearchStage, _o.SearchFraction, _o.Epochs, endSearch)
            is not { } plan) return;
        (_plannedEpochs, _searchEpochs) = (plan.PlannedEpochs, plan.SearchEpochs);
        // From the current step, not from epoch boundaries: a search epoch cut short leaves the step count off them.
        double epochsLeft = plan.ScheduleEpochsLeft(_epochsCompleted, left, epochSeconds);
        _sgd.Reschedule(_sgd.Schedule.RefitFrom(_step, (int)Math.Max(_step + 1, _step + Math.Floor(epochsLeft * StepsPerEpoch))));
        bool partial = epochsLeft < _plannedEpochs - _epochsCompleted;
        if (!partial && !plan.WorthReporting(_reportedPlan)) return;
        _reportedPlan = plan;
        string fit = partial ? $" (the time left holds {epochsLeft:F2} of an epoch: the learning rate reaches zero by then)" : "";
        _s.Log($"Time budget: {_plannedEpochs} epochs fit{fit} (the last took {_epochDurations.Last:F1} s, expecting {epochSeconds:F1} s per epoch); the search ends after epoch {_searchEpochs}.");
    }

    /// <summary>Under a time budget, the time on the run's clock after which the search stage ends (from where the
    /// plan starts, <see cref="BudgetPlan.SearchDeadlineShare"/> of the time left).</summary>
    private void SetSearchDeadline()
    {
        if (_o.TimeBudget is not TimeSpan budget || _stage != SearchStage || _o.SearchFraction >= 1) return;
        double now = _s.Clock.Elapsed.TotalSeconds;
        _searchDeadline = now + Math.Max(0, budget.TotalSeconds - now) * BudgetPlan.SearchDeadlineShare(_o.SearchFraction);
    }

    /// <summary>Whether the search stage should end with epoch <paramref name="epochs"/>: its deadline has passed, and
    /// the epochs the options allow leave room for a tuning epoch after it.</summary>
    private bool PastSearchDeadline(int epochs)
        => _stage == SearchStage && _s.Clock.Elapsed.TotalSeconds >= _searchDeadline && epochs + 1 <= (_o.Epochs ?? int.MaxValue);

    /// <summary>"k3 xc ... (2.84 MFLOPs, 275466 parameters{extra})" for the log.</summary>
    private string DescribeChild(IReadOnlyList<int> path, string extra)
        => $"{BlockChoices.Describe(path)} ({_s.Space.ChildMultiplyAdds(path) / 1e6:F2} MFLOPs, {_s.Space.ChildParameters(path)} parameters{extra})";

    private void StartEpoch(int epoch)
    {
        // Every random stream is reseeded from (seed, epoch), so a resumed run repeats the one that was interrupted.
        GlobalTorchRandom.Seed(_o.Seed * 7919L + epoch);
        _alpha?.Reseed(_o.Seed * 7919 + epoch);
        _augmentGenerator?.Dispose();
        _augmentGenerator = new Generator((ulong)(_o.Seed * 7919L + epoch + 1)); // a CPU generator: AugmentationPolicy.Sample
        _dropoutGenerator?.Dispose();
        _dropoutGenerator = _s.Device.type == DeviceType.CPU ? new Generator(unchecked((ulong)(_o.Seed * 7919L + epoch) ^ 0x9E3779B97F4A7C15UL)) : null;
        if (_supernet is not null) _supernet.DropoutGenerator = _dropoutGenerator;
        if (_child is not null) _child.DropoutGenerator = _dropoutGenerator;
        _validationBatches = ValidationBatches(epoch).GetEnumerator();
        _windowStart = Stopwatch.GetTimestamp();
    }

    private IEnumerator<long[]>? _validationBatches;

    private IEnumerable<long[]> ValidationBatches(int epoch)
    {
        for (int round = 0; ; round++)
            foreach (var rows in _validationSampler.Epoch(epoch * 1000 + round)) yield return rows;
    }

    private void TrainStep(long[] rows, int epoch)
    {
        using var scope = NewDisposeScope();
        var net = Network;
        var (images, labels) = _train.Gather(rows);
        var x = _s.Statistics.Normalize(Augment(images, _augmentGenerator!, out var sample));
        int[]? path = null;
        if (_stage == SearchStage) _supernet!.Path = path = _alpha!.SamplePath();
        net.train();
        net.zero_grad();
        var logits = net.forward(x);
        var perSample = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None, label_smoothing: _o.LabelSmoothing);
        perSample.mean().backward();
        if (_policy is not null) _policy.Step(perSample, sample!);          // eq. 2
        if (path is not null) _alpha!.Step(_supernet!.GateGradients(), path); // eq. 5
        _sgd.Step();                                                         // eq. 6
        if (_sgd.HyperStepDue && (_stage == TuningStage || _o.HyperParameters.TuneDuringSearch)) // eq. 7
        {
            _validationBatches!.MoveNext();
            var (xv, yv) = _validation.Gather(_validationBatches.Current);
            net.zero_grad();
            HypergradientValidationPass.Backward(net, _s.Statistics.Normalize(xv), yv, useRunningStatistics: _stage == TuningStage);
            _sgd.HyperStep();
            net.zero_grad();
        }
        using (no_grad())
        {
            _lossSum.add_(perSample.detach().sum().to(ScalarType.Float64), Scalars.One);
            _correct.add_(logits.argmax(1).eq(labels).sum(), Scalars.One);
        }
        _seen += rows.Length;
        _step++;
    }

    /// <summary>The fixed crop and flip, the sampled policy (when the Augmentation component runs), then Cutout.</summary>
    private Tensor Augment(Tensor images, Generator generator, out AugmentationSample? sample)
    {
        sample = null;
        images = _baseline.CropAndFlip(images, generator);
        if (_policy is not null)
        {
            sample = _policy.Sample((int)images.shape[0], generator);
            images = _policy.Augment(images, sample);
        }
        return _baseline.Cutout(images, generator);
    }

    /// <summary>Reads the metric accumulators (one device synchronization) and resets them.</summary>
    private (double Loss, double Accuracy) ReadWindow()
    {
        double loss = _lossSum.cpu().item<double>(), correct = _correct.cpu().item<long>();
        double n = Math.Max(1, _seen);
        _lastWindowImages = _seen;
        _lossSum.zero_();
        _correct.zero_();
        _seen = 0;
        return (loss / n, correct / n);
    }

    private (double Loss, double Accuracy) EvaluateValidation()
    {
        var clock = Stopwatch.StartNew();
        var net = Network;
        // The supernet's running batch-norm statistics mix every sampled path, so during the search the most probable
        // path is evaluated with batch statistics (training-mode batch norm, no gradients); the child uses its own.
        if (_stage == SearchStage)
        {
            _supernet!.Path = _alpha!.ArgmaxPath();
            net.train();
        }
        else net.eval();
        double loss = 0;
        long correct = 0;
        ForEachValidationChunk(Math.Max(64, _o.BatchSize * 2), (x, y) =>
        {
            var logits = net.forward(_s.Statistics.Normalize(x));
            loss += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).to(ScalarType.Float64).cpu().item<double>();
            correct += logits.argmax(1).eq(y).sum().cpu().item<long>();
        });
        _evaluationSeconds = clock.Elapsed.TotalSeconds;
        int n = Math.Max(1, _s.ValidationRows.Length);
        return (loss / n, (double)correct / n);
    }

    /// <summary>End of the search stage: alpha is frozen at its argmax (or the most probable child within the budgets),
    /// the child is extracted with its weights, its batch-norm statistics are re-estimated on training batches, and the
    /// weight optimizer continues on the child (learned weight decay and learning rate kept).</summary>
    private void EndSearch(Stopwatch stageClock)
    {
        AddStageTime(stageClock);
        var path = _alpha!.Freeze();
        var cost = _alpha.RelativeCost(path) is double relativeCost ? $", measured cost {relativeCost:F2}x the cheapest child's" : "";
        _s.Log($"Architecture fixed after {_epochsCompleted} epoch{(_epochsCompleted == 1 ? "" : "s")}: {DescribeChild(path, cost)}.");
        var supernet = _supernet!;
        _child = GlobalTorchRandom.Exclusive(() => supernet.ExtractChild(path)); // its initial weights are overwritten
        _child.DropoutGenerator = _dropoutGenerator;
        _child.TrainingComputeType = _computeType;
        supernet.Dispose();
        _supernet = null;
        RecalibrateChild();
        CreateOptimizer(_sgd.Schedule, _sgd.SaveState()); // the child keeps the schedule with its re-fits
        _stage = TuningStage;
        _epochDurations.StartStage();
        stageClock.Restart();
    }

    private void RecalibrateChild()
    {
        var batches = _sampler.Epoch(_plannedEpochs + 17).Take(_o.RecalibrationBatches)
            .Select(rows => _s.Statistics.Normalize(_train.Gather(rows).Images));
        BatchNormRecalibration.Recalibrate(_child!, batches);
    }

    private void AddStageTime(Stopwatch stageClock)
    {
        if (_stage == SearchStage) _searchSeconds += stageClock.Elapsed.TotalSeconds;
        else _tuningSeconds += stageClock.Elapsed.TotalSeconds;
        stageClock.Restart();
    }

    private bool OverBudget()
    {
        if (_o.TimeBudget is not TimeSpan budget) return false;
        return _s.Clock.Elapsed.TotalSeconds + FinishingReserve(budget) >= budget.TotalSeconds;
    }

    /// <summary>Time kept back for what follows training: a final evaluation (and one of V times the images with V
    /// test-time views), the export and the scoring chain.</summary>
    private double FinishingReserve(TimeSpan budget)
        => Math.Max(2, 0.03 * budget.TotalSeconds) + (_views.Count > 1 ? 2 + _views.Count : 2) * _evaluationSeconds;

    private void KeepBest(int epoch, double accuracy, double loss)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true)) _child!.save(writer);
        _best = memory.ToArray();
        (_bestEpoch, _bestAccuracy, _bestLoss) = (epoch, accuracy, loss);
    }

    private JointSearchOutcome Finish(string stoppedBy)
    {
        int returnedEpoch = _epochsCompleted;
        var (loss, accuracy) = EvaluateValidation();
        if (stoppedBy != "completed" && _best is not null && _bestAccuracy > accuracy)
        {
            using var reader = new BinaryReader(new MemoryStream(_best));
            _child!.load(reader);
            (returnedEpoch, accuracy, loss) = (_bestEpoch, _bestAccuracy, _bestLoss);
            _s.Log($"Stopped by the time budget: returning epoch {_bestEpoch}'s weights (validation accuracy {_bestAccuracy:P2}).");
        }
        _child!.eval();
        double? averaged = null;
        if (_views.Count > 1)
        {
            averaged = ViewAveragedValidationAccuracy(_views);
            _s.Log($"Validation accuracy with {_views.Count} test-time views: {averaged:P2} (each image as it is: {accuracy:P2}).");
        }
        var child = _child;
        _child = null; // ownership passes to the caller
        child!.DropoutGenerator = null; // the generator is disposed with this search; the child may train on elsewhere
        child.TrainingComputeType = null; // and in float32 unless told otherwise
        var subPolicies = _policy is null ? Array.Empty<string>() : Enumerable.Range(0, _policy.SubPolicyCount).Select(_policy.SubPolicyName).ToArray();
        return new JointSearchOutcome(child, _history.ToArray(), Downsample(_sgd.Trajectory, 500), _plannedEpochs, _epochsCompleted,
            _searchEpochs, stoppedBy, returnedEpoch, accuracy, loss, _searchSeconds, _tuningSeconds, _resumed, subPolicies,
            _alpha?.RelativeCost(child.Path), averaged);
    }

    /// <summary>The returned child's validation accuracy when it scores as the exported model does with
    /// <paramref name="views"/> (<see cref="AugmentationOptions.TestTimeFlip"/>, <see cref="AugmentationOptions.TestTimeShift"/>).</summary>
    private double ViewAveragedValidationAccuracy(TestTimeViews views)
    {
        long correct = 0;
        // A chunk of EvaluateValidation's over V: each forward sees V times the images.
        ForEachValidationChunk(Math.Max(32, 2 * _o.BatchSize / views.Count),
            (x, y) => correct += views.Probabilities(_child!, x, _s.Statistics.Normalize).argmax(1).eq(y).sum().cpu().item<long>());
        return (double)correct / Math.Max(1, _s.ValidationRows.Length);
    }

    /// <summary>Hands every chunk of the validation images (pixels 0..255, not normalized) with its labels to
    /// <paramref name="score"/>, without gradients and in a dispose scope of its own.</summary>
    private void ForEachValidationChunk(int chunkSize, Action<Tensor, Tensor> score)
    {
        using (no_grad())
            foreach (var chunk in _s.ValidationRows.Chunk(chunkSize))
            {
                using var scope = NewDisposeScope();
                var (x, y) = _validation.Gather(chunk.Select(r => (long)r).ToArray());
                score(x, y);
            }
    }

    private static IReadOnlyList<HyperparameterRecord> Downsample(IReadOnlyList<HyperparameterRecord> records, int count)
        => records.Count <= count ? records.ToArray() : Enumerable.Range(0, count).Select(i => records[(int)((long)i * (records.Count - 1) / (count - 1))]).ToArray();

    private EpochRecord Record(int epoch, double trainLoss, double trainAccuracy, double validationLoss, double validationAccuracy, double imagesPerSecond)
        => new()
        {
            Epoch = epoch,
            Stage = _stage,
            ElapsedSeconds = _s.Clock.Elapsed.TotalSeconds,
            TrainLoss = trainLoss,
            TrainAccuracy = trainAccuracy,
            ValidationLoss = validationLoss,
            ValidationAccuracy = validationAccuracy,
            LearningRate = _sgd.CurrentLearningRate,
            WeightDecay = _sgd.WeightDecay,
            Architecture = CurrentArchitecture(),
            ArchitectureProbabilities = _stage == SearchStage ? _alpha!.Probabilities().Select(p => (IReadOnlyList<double>)p).ToArray() : Array.Empty<IReadOnlyList<double>>(),
            AugmentationProbabilities = _policy?.Probabilities() ?? Array.Empty<double>(),
            ArchitectureEntropy = _alpha is null ? double.NaN : _alpha.MeanEntropy(),
            AugmentationEntropy = _policy is null ? double.NaN : _policy.Entropy(),
            TopSubPolicies = TopSubPolicies(),
            ImagesPerSecond = imagesPerSecond,
        };

    private string CurrentArchitecture() => BlockChoices.Describe(_child?.Path ?? _alpha!.ArgmaxPath());

    private IReadOnlyList<SubPolicyShare> TopSubPolicies()
        => _policy?.Top(5).Select(t => new SubPolicyShare(t.Name, t.Probability)).ToArray() ?? Array.Empty<SubPolicyShare>();

    private void Report(int epoch, bool endOfEpoch, double loss, double accuracy, EpochRecord? record = null)
    {
        var now = Stopwatch.GetTimestamp();
        double windowSeconds = Stopwatch.GetElapsedTime(_windowStart, now).TotalSeconds;
        _windowStart = now;
        long totalSteps = _plannedEpochs * StepsPerEpoch;
        double elapsed = _s.Clock.Elapsed.TotalSeconds;
        double remaining = _step == 0 ? 0 : elapsed / _step * (totalSteps - _step);
        if (_o.TimeBudget is TimeSpan budget) remaining = Math.Min(remaining, Math.Max(0, budget.TotalSeconds - elapsed));
        var last = _history.LastOrDefault();
        var progress = new DiffAutoMLProgress
        {
            Stage = _stage,
            Epoch = epoch + 1,
            Epochs = _plannedEpochs,
            Step = _step,
            Steps = totalSteps,
            EndOfEpoch = endOfEpoch,
            TrainLoss = loss,
            TrainAccuracy = accuracy,
            ValidationLoss = last?.ValidationLoss ?? double.NaN,
            ValidationAccuracy = last?.ValidationAccuracy ?? double.NaN,
            ImagesPerSecond = record?.ImagesPerSecond ?? _lastWindowImages / Math.Max(1e-9, windowSeconds),
            Elapsed = _s.Clock.Elapsed,
            Remaining = TimeSpan.FromSeconds(remaining),
            Architecture = CurrentArchitecture(),
            ArchitectureEntropy = _alpha is null || _stage == TuningStage ? double.NaN : _alpha.MeanEntropy(),
            AugmentationEntropy = _policy is null ? double.NaN : _policy.Entropy(),
            TopSubPolicies = TopSubPolicies(),
            WeightDecay = _sgd.WeightDecay,
            LearningRate = _sgd.CurrentLearningRate,
        };
        _o.Progress?.Report(progress);
        if (endOfEpoch || _o.Progress is null) _s.Log(progress.ToString());
    }

    private void SaveCheckpoint()
    {
        if (_checkpoints is null) return;
        var header = new CheckpointHeader
        {
            Fingerprint = _s.Fingerprint,
            EpochsCompleted = _epochsCompleted,
            Step = _step,
            Stage = _stage,
            PlannedEpochs = _plannedEpochs,
            SearchEpochs = _searchEpochs,
            ChildPath = _child?.Path.ToArray(),
            BlockCosts = _alpha?.MeasuredCosts?.Milliseconds,
            HasBest = _best is not null,
            BestEpoch = _bestEpoch,
            BestValidationAccuracy = _best is null ? 0 : _bestAccuracy,
            BestValidationLoss = _best is null ? 0 : _bestLoss,
            SearchSeconds = _searchSeconds,
            TuningSeconds = _tuningSeconds,
            Optimizer = _sgd.SaveState(),
            Schedule = _sgd.Schedule,
            History = _history.ToArray(),
        };
        _checkpoints.Save(header, writer =>
        {
            Network.save(writer);
            _policy?.WriteState(writer);
            if (_stage == SearchStage) _alpha!.WriteState(writer);
            TensorIO.WriteAll(writer, _sgd.Velocities);
            if (_best is not null) { writer.Write(_best.Length); writer.Write(_best); }
        });
    }

    private bool TryResume()
    {
        if (_checkpoints is null || !_checkpoints.Exists) return false;
        var (header, reader) = _checkpoints.Load();
        using var _ = reader;
        if (header.Fingerprint != _s.Fingerprint)
            throw new InvalidOperationException($"The checkpoint in '{_checkpoints.Folder}' was written for other data or options, or by another version of DiffAutoML.ML; " +
                "use another CheckpointFolder (or delete it) to start a new search.");
        _plannedEpochs = header.PlannedEpochs;
        _searchEpochs = header.SearchEpochs;
        _epochsCompleted = header.EpochsCompleted;
        _step = header.Step;
        (_searchSeconds, _tuningSeconds) = (header.SearchSeconds, header.TuningSeconds);
        _history.AddRange(header.History);
        if (header.Stage == TuningStage && _supernet is not null)
        {
            _supernet.Dispose();
            _supernet = null;
            _alpha!.LoadState(_alpha.SaveState(), header.ChildPath!.Select(c => (int?)c).ToArray());
            _child = GlobalTorchRandom.Exclusive(() => new ChildNetwork(_s.Space, header.ChildPath!)); // weights loaded below
            _child.TrainingComputeType = _computeType;
            _child.to(_s.Device);
        }
        if (header.BlockCosts is not null) _alpha?.UseMeasuredCosts(new BlockCostTable(header.BlockCosts));
        _stage = header.Stage;
        Network.load(reader);
        _policy?.ReadState(reader);
        if (_stage == SearchStage) _alpha!.ReadState(reader);
        CreateOptimizer(header.Schedule ?? NewSchedule(), header.Optimizer);
        var velocities = TensorIO.ReadAll(reader);
        for (int i = 0; i < velocities.Count; i++) _sgd.LoadVelocity(i, velocities[i]);
        foreach (var v in velocities) v?.Dispose();
        if (header.HasBest)
        {
            _best = reader.ReadBytes(reader.ReadInt32());
            (_bestEpoch, _bestAccuracy, _bestLoss) = (header.BestEpoch, header.BestValidationAccuracy, header.BestValidationLoss);
        }
        _s.Log($"Resumed from '{_checkpoints.FilePath}' after epoch {_epochsCompleted} of {_plannedEpochs} ({_stage} stage).");
        return true;
    }

    public void Dispose()
    {
        _policy?.Dispose();
        _alpha?.Dispose();
        _supernet?.Dispose();
        _child?.Dispose();
        _sgd?.Dispose();
        _augmentGenerator?.Dispose();
        _dropoutGenerator?.Dispose();
        _validationBatches?.Dispose();
        _train.Dispose();
        if (!ReferenceEquals(_train, _validation)) _validation.Dispose();
        _lossSum.Dispose();
        _correct.Dispose();
    }
}
