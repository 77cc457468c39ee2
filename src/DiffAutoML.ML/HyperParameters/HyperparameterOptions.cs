namespace DiffAutoML.ML.HyperParameters;

/// <summary>SGD for the weights, its schedule, and the hypergradient tuning of weight decay and learning rate.</summary>
public sealed record class HyperparameterOptions
{
    /// <summary>Peak learning rate of the cosine schedule (before the learned multiplier). Default 0.1.</summary>
    public double LearningRate { get; set; } = 0.1;

    /// <summary>SGD momentum mu (no Nesterov). Default 0.9 (paper).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Initial weight decay lambda (not applied to batch-norm parameters and biases). Default 4e-5 (DSNAS).</summary>
    public double WeightDecay { get; set; } = 4e-5;

    /// <summary>Linear warm-up steps before the cosine decay. Default 0.</summary>
    public int WarmupSteps { get; set; }

    /// <summary>Learn the weight decay by hypergradient. Default true.</summary>
    public bool TuneWeightDecay { get; set; } = true;

    /// <summary>Learn a multiplier of the learning-rate schedule by hypergradient. Default false (the paper tunes both for ResNet-50).</summary>
    public bool TuneLearningRate { get; set; }

    /// <summary>
    /// Learn eta during the architecture search stage too, as the paper's Algorithm 1 does. Default true. With false,
    /// eta keeps its initial values until the architecture is fixed: during the search the validation pass uses batch
    /// statistics (the supernet's running ones mix paths), under which every convolution followed by batch norm is
    /// scale invariant, so the weight-decay hypergradient sees only the classifier (docs/algorithm.md, "Decisions").
    /// </summary>
    public bool TuneDuringSearch { get; set; } = true;

    /// <summary>Adam learning rate for log(lambda) and log(multiplier). Default 1e-3 (paper appendix).</summary>
    public double HyperLearningRate { get; set; } = 1e-3;

    /// <summary>Update eta every this many steps (1 = every step, the paper's setting; larger cuts the extra cost).</summary>
    public int UpdateEvery { get; set; } = 1;

    /// <summary>Bounds of the learned weight decay.</summary>
    public double MinWeightDecay { get; set; } = 1e-7;

    /// <summary>Bounds of the learned weight decay.</summary>
    public double MaxWeightDecay { get; set; } = 1e-1;

    /// <summary>Bounds of the learned learning-rate multiplier.</summary>
    public double MinLearningRateMultiplier { get; set; } = 0.1;

    /// <summary>Bounds of the learned learning-rate multiplier.</summary>
    public double MaxLearningRateMultiplier { get; set; } = 10;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad value.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object value, string rule) { if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}."); }
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a positive finite number");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be >= 0");
        Check(HyperLearningRate >= 0 && double.IsFinite(HyperLearningRate), nameof(HyperLearningRate), HyperLearningRate, "must be a finite number >= 0");
        Check(UpdateEvery >= 1, nameof(UpdateEvery), UpdateEvery, "must be at least 1");
        Check(MinWeightDecay > 0 && MinWeightDecay <= MaxWeightDecay && double.IsFinite(MaxWeightDecay), nameof(MinWeightDecay), MinWeightDecay, $"must be positive and at most MaxWeightDecay ({MaxWeightDecay})");
        Check(WeightDecay >= MinWeightDecay && WeightDecay <= MaxWeightDecay, nameof(WeightDecay), WeightDecay, $"must be within [{MinWeightDecay}, {MaxWeightDecay}]");
        Check(MinLearningRateMultiplier > 0 && MinLearningRateMultiplier <= 1 && MaxLearningRateMultiplier >= 1 && double.IsFinite(MaxLearningRateMultiplier),
            nameof(MinLearningRateMultiplier), MinLearningRateMultiplier, "and MaxLearningRateMultiplier must bracket 1");
    }
}
