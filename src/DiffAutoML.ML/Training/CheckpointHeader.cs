using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Reporting;

namespace DiffAutoML.ML.Training;

/// <summary>The metadata part of a checkpoint (the tensors follow it in the file).</summary>
internal sealed record CheckpointHeader
{
    public string Fingerprint { get; init; } = "";
    public int EpochsCompleted { get; init; }
    public long Step { get; init; }
    public string Stage { get; init; } = "";
    public int PlannedEpochs { get; init; }
    public int SearchEpochs { get; init; }
    public int[]? ChildPath { get; init; }
    public double[][]? BlockCosts { get; init; }
    public bool HasBest { get; init; }
    public int BestEpoch { get; init; }
    public double BestValidationAccuracy { get; init; }
    public double BestValidationLoss { get; init; }
    public double SearchSeconds { get; init; }
    public double TuningSeconds { get; init; }
    public HypergradientSgdState? Optimizer { get; init; }
    /// <summary>The learning-rate schedule, with its re-fits to a time budget (absent in older checkpoints: rebuilt from PlannedEpochs).</summary>
    public LearningRateSchedule? Schedule { get; init; }
    public IReadOnlyList<EpochRecord> History { get; init; } = Array.Empty<EpochRecord>();
}
