namespace DiffAutoML.ML.Api;

/// <summary>One progress report of a running search.</summary>
public sealed record DiffAutoMLProgress
{
    /// <summary>"search" (architecture being searched) or "tuning" (architecture fixed).</summary>
    public string Stage { get; init; } = "";

    /// <summary>Epoch (1-based) and total.</summary>
    public int Epoch { get; init; }

    /// <summary>Total epochs planned.</summary>
    public int Epochs { get; init; }

    /// <summary>Global step (1-based) and total.</summary>
    public long Step { get; init; }

    /// <summary>Total steps planned.</summary>
    public long Steps { get; init; }

    /// <summary>True at the end of an epoch (validation metrics are then fresh).</summary>
    public bool EndOfEpoch { get; init; }

    /// <summary>Mean training loss since the last report.</summary>
    public double TrainLoss { get; init; }

    /// <summary>Training accuracy since the last report (on augmented images).</summary>
    public double TrainAccuracy { get; init; }

    /// <summary>Validation loss (last epoch end), NaN before the first.</summary>
    public double ValidationLoss { get; init; } = double.NaN;

    /// <summary>Validation accuracy (last epoch end), NaN before the first.</summary>
    public double ValidationAccuracy { get; init; } = double.NaN;

    /// <summary>Training throughput since the last report.</summary>
    public double ImagesPerSecond { get; init; }

    /// <summary>Time since Fit started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Estimated time to the end.</summary>
    public TimeSpan Remaining { get; init; }

    /// <summary>Current most probable (or fixed) architecture.</summary>
    public string Architecture { get; init; } = "";

    /// <summary>Mean entropy of alpha's layer distributions (nats; ln 4 = 1.386 uniform); NaN without search.</summary>
    public double ArchitectureEntropy { get; init; } = double.NaN;

    /// <summary>Entropy of tau's distribution (nats); NaN without augmentation search.</summary>
    public double AugmentationEntropy { get; init; } = double.NaN;

    /// <summary>The most probable augmentation sub-policies.</summary>
    public IReadOnlyList<Reporting.SubPolicyShare> TopSubPolicies { get; init; } = Array.Empty<Reporting.SubPolicyShare>();

    /// <summary>Current weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Current learning rate.</summary>
    public double LearningRate { get; init; }

    /// <summary>One line for logs.</summary>
    public override string ToString()
        => $"[{Stage}] epoch {Epoch}/{Epochs} step {Step}/{Steps}: loss {TrainLoss:F3} acc {TrainAccuracy:P1}" +
           (double.IsNaN(ValidationAccuracy) ? "" : $", val loss {ValidationLoss:F3} acc {ValidationAccuracy:P1}") +
           $", {ImagesPerSecond:F0} img/s, left {Remaining:hh\\:mm\\:ss}, lr {LearningRate:G3} wd {WeightDecay:G3}" +
           (double.IsNaN(ArchitectureEntropy) ? "" : $", H(alpha) {ArchitectureEntropy:F3}") +
           (double.IsNaN(AugmentationEntropy) ? "" : $", H(tau) {AugmentationEntropy:F2} top {string.Join(" ", TopSubPolicies.Take(3).Select(t => $"{t.Name}:{t.Probability:P1}"))}") +
           $", arch {Architecture}";
}
