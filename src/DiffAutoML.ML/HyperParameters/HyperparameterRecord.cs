namespace DiffAutoML.ML.HyperParameters;

/// <summary>One hyper-parameter update, for reports.</summary>
/// <param name="Step">Training step (0-based).</param>
/// <param name="WeightDecay">lambda after the update.</param>
/// <param name="LearningRate">Effective learning rate of the step (schedule x multiplier).</param>
/// <param name="LearningRateMultiplier">The learned multiplier after the update.</param>
/// <param name="WeightDecayHypergradient">dL_val/dlambda (eq. 7).</param>
/// <param name="LearningRateHypergradient">dL_val/dlr (eq. 7).</param>
public sealed record HyperparameterRecord(long Step, double WeightDecay, double LearningRate, double LearningRateMultiplier,
    double WeightDecayHypergradient, double LearningRateHypergradient);
