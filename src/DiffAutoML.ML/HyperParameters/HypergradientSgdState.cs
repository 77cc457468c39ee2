namespace DiffAutoML.ML.HyperParameters;

/// <summary>The scalar state of <see cref="HypergradientSgd"/> (momentum buffers are saved separately).</summary>
public sealed record HypergradientSgdState(long StepCount, double LogWeightDecay, double LogLearningRateMultiplier,
    double AdamMeanDecay, double AdamSquareDecay, double AdamMeanMultiplier, double AdamSquareMultiplier, long AdamSteps,
    IReadOnlyList<HyperparameterRecord> Trajectory);
