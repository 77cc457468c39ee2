using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Search;
using Microsoft.ML;

namespace DiffAutoML.ML.Api;

/// <summary>Everything a DiffAutoML search can be told. The estimator copies it on construction.</summary>
public sealed record class DiffAutoMLOptions
{
    /// <summary>How images and labels are read (columns, size, channels, bad rows).</summary>
    public ImageDataOptions Data { get; set; } = new();

    /// <summary>The shape of the searched network (its input size and classes come from the data).</summary>
    public SearchSpaceOptions SearchSpace { get; set; } = new() { Preset = SearchSpacePreset.Compact };

    /// <summary>Which components run (default: all three, jointly).</summary>
    public DiffAutoMLComponents Components { get; set; } = DiffAutoMLComponents.All;

    /// <summary>The architecture trained when <see cref="DiffAutoMLComponents.Architecture"/> is off, as "k3 k5 xc ..."
    /// (one entry per layer); null = all k3 (ShuffleNetV2).</summary>
    public string? FixedArchitecture { get; set; }

    /// <summary>Augmentation policy settings.</summary>
    public AugmentationOptions Augmentation { get; set; } = new();

    /// <summary>Architecture search settings (optimizer, early fixing, budgets).</summary>
    public ArchitectureSearchOptions Architecture { get; set; } = new();

    /// <summary>Weight optimizer and hyper-parameter tuning settings.</summary>
    public HyperparameterOptions HyperParameters { get; set; } = new() { LearningRate = 0.1, WeightDecay = 4e-5 };

    /// <summary>Training epochs; null = as many as <see cref="TimeBudget"/> allows (one of the two is needed).</summary>
    public int? Epochs { get; set; } = 30;

    /// <summary>Wall-clock limit of Fit. The schedule is sized to fit it (at most <see cref="Epochs"/>, from the measured
    /// cost of a few steps); if training still runs over, it stops and the best model so far (by validation accuracy)
    /// is returned.</summary>
    public TimeSpan? TimeBudget { get; set; }

    /// <summary>Fraction of the epochs spent searching the architecture before it is fixed (DSNAS: 1/3).</summary>
    public double SearchFraction { get; set; } = 1.0 / 3;

    /// <summary>Warm-up epochs of the learning-rate schedule.</summary>
    public double WarmupEpochs { get; set; } = 1;

    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; set; } = 128;

    /// <summary>Size of the validation batch of each hypergradient step; null = a quarter of <see cref="BatchSize"/>
    /// (the extra pass then costs about 0.2x a step; docs/benchmarks.md, "Hyper-parameter step").</summary>
    public int? ValidationBatchSize { get; set; }

    /// <summary><see cref="ValidationBatchSize"/> with its default filled in.</summary>
    internal int EffectiveValidationBatchSize => ValidationBatchSize ?? Math.Max(1, BatchSize / 4);

    /// <summary>Label smoothing of the training loss (DSNAS: 0.1).</summary>
    public double LabelSmoothing { get; set; } = 0.1;

    /// <summary>
    /// Held-out fraction of the training data (stratified) when <see cref="ValidationData"/> is null: round(fraction x n)
    /// rows of each class, but at least one per class, and never a class's last row (it stays in training).
    /// </summary>
    public double ValidationFraction { get; set; } = 0.1;

    /// <summary>A separate validation set (never augmented); null = split <see cref="ValidationFraction"/> off.</summary>
    public IDataView? ValidationData { get; set; }

    /// <summary>Training batches used to re-estimate batch-norm statistics of the chosen child.</summary>
    public int RecalibrationBatches { get; set; } = 20;

    /// <summary>Seed of every random choice (split, batches, augmentation, paths, weights).</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Where training runs.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Auto;

    /// <summary>
    /// The arithmetic of the training steps: float32 (default), or bfloat16 mixed precision, where the forward and
    /// backward passes of training run in bfloat16 and the weights, gradients, optimizer, loss, validation and the
    /// returned model stay float32 (<see cref="TrainingPrecision.BFloat16"/>; CUDA only, float32 on the CPU with a log
    /// line; docs/gpu.md, "Settings for a GPU").
    /// </summary>
    public TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

    /// <summary>CPU threads for TorchSharp while Fit runs (the count is process-wide: Fits running at the same time share it,
    /// the latest to start sets it, and the count from before the first comes back when the last ends); null = leave it.</summary>
    public int? Threads { get; set; }

    /// <summary>
    /// On CUDA, cuDNN's benchmark mode for the Fit (PyTorch's <c>torch.backends.cudnn.benchmark</c>): the first
    /// convolution of each new shape times cuDNN's algorithms and the later ones use the fastest, which suits a Fit (one
    /// image size; the search's few block shapes) at the cost of a slower first pass over the shapes, and runs that may
    /// differ in their last digits. The flag is the process's and is put back after the Fit as <see cref="Threads"/> is;
    /// null = leave libtorch's setting (off unless the process turned it on). Reached on Linux x64 only; elsewhere Fit
    /// logs that it was not applied. Nothing changes on the CPU.
    /// </summary>
    public bool? CudnnBenchmark { get; set; }

    /// <summary>
    /// On Linux (glibc), keep the memory libtorch frees for reuse while Fit runs instead of returning it to the kernel
    /// (malloc settings M_MMAP_MAX 0 and M_TRIM_THRESHOLD 1 GiB; afterwards fixed thresholds of 32 and 64 MiB, the values
    /// glibc's own reach, and the freed memory returned). With glibc's defaults every activation over 32 MiB is page-faulted
    /// in again at each step: a step at 64x64 took 4.3x as long, one at 128x128 11.6x
    /// (docs/benchmarks.md, "Native memory on Linux"), for up to 1.6x the peak memory (freed blocks stay in the process).
    /// The setting is the process's; false leaves it alone. Separately, and for the whole process, the library asks
    /// libtorch for transparent huge pages when it loads torch (THP_MEM_ALLOC_ENABLE=1, unless the environment sets that
    /// variable; 0 turns it off): on threads other than the main one glibc maps blocks over 64 MiB whatever these
    /// settings say.
    /// </summary>
    public bool TuneNativeAllocator { get; set; } = true;

    /// <summary>
    /// Folder for checkpoints (written atomically every epoch). Fit with the same folder resumes a killed run; a
    /// checkpoint written for other options or other data (a hash of the labels and pixels) is refused with an error.
    /// </summary>
    public string? CheckpointFolder { get; set; }

    /// <summary>Progress reports: every <see cref="ProgressEverySteps"/> steps and at each epoch end.</summary>
    public IProgress<DiffAutoMLProgress>? Progress { get; set; }

    /// <summary>Steps between progress reports (metrics are read from the device only then).</summary>
    public int ProgressEverySteps { get; set; } = 50;

    /// <summary>Stops Fit (an <see cref="OperationCanceledException"/>); the last epoch's checkpoint stays.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>A deep copy of the nested option objects (the data views and callbacks are shared).</summary>
    public DiffAutoMLOptions Copy() => this with
    {
        Data = Data with { }, SearchSpace = SearchSpace with { }, Augmentation = Augmentation with { },
        Architecture = Architecture with { Candidates = Architecture.Candidates?.ToArray() }, HyperParameters = HyperParameters with { },
    };

    /// <summary>
    /// New options holding the settings of <paramref name="profile"/> (every other value is the default); change any of
    /// them afterwards as usual. <see cref="DiffAutoMLProfile.Paper"/> gives the same as <c>new DiffAutoMLOptions()</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="profile"/> is not a defined profile.</exception>
    public static DiffAutoMLOptions FromProfile(DiffAutoMLProfile profile)
    {
        var options = new DiffAutoMLOptions();
        switch (profile)
        {
            case DiffAutoMLProfile.Paper:
                break;
            case DiffAutoMLProfile.Efficient:
                // Measured on Fashion-MNIST on the CPU, each against the paper's defaults (docs/benchmarks.md, "Profiles"):
                // the cost budget keeps the child fast to train, sampling within it and the shared kernels let the
                // supernet learn as fast as a fixed network, and a short search leaves the epochs to the child.
                options.Architecture.MaxRelativeCost = 1.1;
                options.Architecture.SampleWithinBudget = true;
                options.Architecture.Candidates = new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle5, BlockChoice.Shuffle7 };
                options.SearchSpace.SharedKernels = true;
                options.SearchFraction = 0.15;
                options.HyperParameters.TuneDuringSearch = false;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(profile), profile, $"Unknown profile; expected one of {string.Join(", ", Enum.GetNames<DiffAutoMLProfile>())}.");
        }
        return options;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule) { if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}."); }
        ArgumentNullException.ThrowIfNull(Data, nameof(Data));
        ArgumentNullException.ThrowIfNull(SearchSpace, nameof(SearchSpace));
        ArgumentNullException.ThrowIfNull(Augmentation, nameof(Augmentation));
        ArgumentNullException.ThrowIfNull(Architecture, nameof(Architecture));
        ArgumentNullException.ThrowIfNull(HyperParameters, nameof(HyperParameters));
        Data.Validate();
        Augmentation.Validate();
        Architecture.Validate();
        HyperParameters.Validate();
        Check((Components & ~DiffAutoMLComponents.All) == 0, nameof(Components), Components, "has unknown flags");
        Check(Epochs is null or > 0, nameof(Epochs), Epochs, "must be positive");
        Check(TimeBudget is null || TimeBudget > TimeSpan.Zero, nameof(TimeBudget), TimeBudget, "must be positive");
        Check(Epochs is not null || TimeBudget is not null, nameof(Epochs), Epochs, "or TimeBudget must be set");
        Check(SearchFraction is > 0 and <= 1, nameof(SearchFraction), SearchFraction, "must be in (0, 1]");
        Check(WarmupEpochs >= 0 && double.IsFinite(WarmupEpochs), nameof(WarmupEpochs), WarmupEpochs, "must be a finite number >= 0");
        Check(BatchSize is >= 2 and <= 65536, nameof(BatchSize), BatchSize, "must be between 2 and 65536");
        Check(ValidationBatchSize is null or >= 1, nameof(ValidationBatchSize), ValidationBatchSize, "must be positive");
        Check(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "must be in [0, 1)");
        Check(ValidationData is not null || ValidationFraction is > 0 and < 0.9, nameof(ValidationFraction), ValidationFraction, "must be in (0, 0.9) when no ValidationData is given");
        Check(RecalibrationBatches >= 1, nameof(RecalibrationBatches), RecalibrationBatches, "must be at least 1");
        Check(Enum.IsDefined(Device), nameof(Device), Device, "is not a known device");
        Check(Enum.IsDefined(Precision), nameof(Precision), Precision, "is not a known precision");
        Check(Threads is null or >= 1, nameof(Threads), Threads, "must be at least 1");
        Check(ProgressEverySteps >= 1, nameof(ProgressEverySteps), ProgressEverySteps, "must be at least 1");
        if (FixedArchitecture is not null)
        {
            try { BlockChoices.Parse(FixedArchitecture); }
            catch (FormatException e) { throw new ArgumentOutOfRangeException(nameof(FixedArchitecture), FixedArchitecture, e.Message); }
        }
    }
}
