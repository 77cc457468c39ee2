namespace DiffAutoML.ML.Reporting;

/// <summary>The state of the search at the end of one epoch.</summary>
public sealed record EpochRecord
{
    /// <summary>Epoch (1-based).</summary>
    public int Epoch { get; init; }

    /// <summary>"search" or "tuning".</summary>
    public string Stage { get; init; } = "";

    /// <summary>Seconds since Fit started.</summary>
    public double ElapsedSeconds { get; init; }

    /// <summary>Mean training loss over the epoch.</summary>
    public double TrainLoss { get; init; }

    /// <summary>Training accuracy over the epoch (augmented images).</summary>
    public double TrainAccuracy { get; init; }

    /// <summary>Validation loss (un-augmented, evaluation mode).</summary>
    public double ValidationLoss { get; init; }

    /// <summary>Validation accuracy.</summary>
    public double ValidationAccuracy { get; init; }

    /// <summary>Learning rate at the epoch's end.</summary>
    public double LearningRate { get; init; }

    /// <summary>Weight decay at the epoch's end.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Most probable (or fixed) architecture.</summary>
    public string Architecture { get; init; } = "";

    /// <summary>softmax(alpha) per layer during the search stage (empty afterwards and without architecture search).</summary>
    public IReadOnlyList<IReadOnlyList<double>> ArchitectureProbabilities { get; init; } = Array.Empty<IReadOnlyList<double>>();

    /// <summary>Mean entropy of alpha's layers (NaN without search).</summary>
    public double ArchitectureEntropy { get; init; } = double.NaN;

    /// <summary>Entropy of tau (NaN without augmentation search).</summary>
    public double AugmentationEntropy { get; init; } = double.NaN;

    /// <summary>softmax(tau): the probability of every sub-policy, in the order of
    /// <see cref="DiffAutoMLReport.SubPolicies"/> (empty without augmentation search).</summary>
    public IReadOnlyList<double> AugmentationProbabilities { get; init; } = Array.Empty<double>();

    /// <summary>The most probable sub-policies.</summary>
    public IReadOnlyList<SubPolicyShare> TopSubPolicies { get; init; } = Array.Empty<SubPolicyShare>();

    /// <summary>Training images per second over the epoch.</summary>
    public double ImagesPerSecond { get; init; }
}
