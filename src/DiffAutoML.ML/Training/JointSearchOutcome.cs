using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Reporting;
using DiffAutoML.ML.Search;

namespace DiffAutoML.ML.Training;

/// <summary>What the joint loop returns: the trained child (evaluation mode) and how the run went.
/// <see cref="TestTimeViewsValidationAccuracy"/> is null unless the model scores with test-time views (flip, shifts).</summary>
internal sealed record JointSearchOutcome(
    ChildNetwork Child,
    IReadOnlyList<EpochRecord> History,
    IReadOnlyList<HyperparameterRecord> HyperParameters,
    int PlannedEpochs,
    int EpochsCompleted,
    int SearchEpochs,
    string StoppedBy,
    int ReturnedEpoch,
    double ValidationAccuracy,
    double ValidationLoss,
    double SearchSeconds,
    double TuningSeconds,
    bool Resumed,
    IReadOnlyList<string> SubPolicies,
    double? RelativeCost,
    double? TestTimeViewsValidationAccuracy);
