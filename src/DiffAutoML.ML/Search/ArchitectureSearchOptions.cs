using System.Text.Json.Serialization;

namespace DiffAutoML.ML.Search;

/// <summary>How alpha is learned, when layers are fixed, and the resource budgets.</summary>
public sealed record class ArchitectureSearchOptions
{
    /// <summary>Optimizer for alpha. Default Adam (DSNAS).</summary>
    public ArchitectureOptimizer Optimizer { get; set; } = ArchitectureOptimizer.Adam;

    /// <summary>Learning rate for alpha. Default 0.02: DSNAS used 1e-3 over about 100,000 search steps on ImageNet; a
    /// search on a few thousand images has a few hundred, and alpha would not move (docs/algorithm.md).</summary>
    public double LearningRate { get; set; } = 0.02;

    /// <summary>Adam's beta1 (DSNAS: 0.5).</summary>
    public double Beta1 { get; set; } = 0.5;

    /// <summary>Adam's beta2 (DSNAS: 0.999).</summary>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>SGD momentum (used with <see cref="ArchitectureOptimizer.Sgd"/>).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>A layer is fixed at its most probable block once the top probability exceeds the second by this
    /// much (DSNAS: 0.3); 1 or more disables early fixing.</summary>
    public double EarlyFixMargin { get; set; } = 0.3;

    /// <summary>Standard deviation of alpha's initial values around 0 (0 = exactly uniform).</summary>
    public double InitialStd { get; set; }

    /// <summary>Largest child in millions of multiply-adds per image; null = no limit.</summary>
    public double? MaxMFlops { get; set; }

    /// <summary>Largest child in parameters; null = no limit.</summary>
    public long? MaxParameters { get; set; }

    /// <summary>Largest measured training cost of the child relative to the cheapest child the search may return (the
    /// cheapest of <see cref="Candidates"/> in every layer; 1.2 = at most 20% slower; <see cref="BlockCostTable"/>): every
    /// candidate block is timed on the training device when the search starts, within the time budget (four passes of every
    /// candidate at the training batch, roughly the work of 16 training steps: measured 3 s for 28x28 images at batch 128
    /// and 13-15 s for 224x224 images at batch 16, on two CPU cores). Null = no limit. Unlike multiply-adds, it sees what
    /// large depthwise kernels cost on a CPU; unlike them it depends on the machine, so a search with this budget can
    /// choose another child on another machine or when the machine is busy (a resumed search reuses the saved costs).</summary>
    public double? MaxRelativeCost { get; set; }

    /// <summary>While searching, draw each step's child from softmax(alpha) restricted to the children within the budgets
    /// above, so that the supernet trains only children the search may return. Default false: DSNAS draws from every
    /// child and penalizes those over a budget. No effect without a budget. Not in the paper (docs/algorithm.md,
    /// "Sampling within the budget").</summary>
    public bool SampleWithinBudget { get; set; }

    /// <summary>The blocks the search may choose in each layer; null = all four (DSNAS). Leaving out
    /// <see cref="BlockChoice.Xception"/> with <see cref="SearchSpaceOptions.SharedKernels"/> makes the search a kernel-size
    /// search over one shared kernel (Single-Path NAS), whose supernet learned as fast as the fixed network under a tight
    /// cost budget (measured, docs/benchmarks.md): an Xception candidate has weights of its own, and until they are
    /// trained every step that draws it trains through a random block (docs/algorithm.md, "Candidate blocks"). Not in
    /// the paper.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // options without it keep their checkpoints' fingerprint
    public IReadOnlyList<BlockChoice>? Candidates { get; set; }

    /// <summary>Whether the search may choose <paramref name="choice"/> (<see cref="Candidates"/>).</summary>
    public bool IsCandidate(BlockChoice choice) => Candidates is null || Candidates.Contains(choice);

    /// <summary>Weight of the resource penalty, applied while a sampled child exceeds a budget. Costs are measured
    /// relative to an equal share of the budget per layer, so the weight does not depend on the network's size.</summary>
    public double PenaltyCoefficient { get; set; } = 0.1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad value.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule) { if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}."); }
        Check(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer, "is not a known optimizer");
        Check(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a finite number >= 0");
        Check(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Check(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(EarlyFixMargin > 0, nameof(EarlyFixMargin), EarlyFixMargin, "must be positive");
        Check(InitialStd >= 0 && double.IsFinite(InitialStd), nameof(InitialStd), InitialStd, "must be a finite number >= 0");
        Check(MaxMFlops is null or > 0, nameof(MaxMFlops), MaxMFlops, "must be positive");
        Check(MaxParameters is null or > 0, nameof(MaxParameters), MaxParameters, "must be positive");
        Check(MaxRelativeCost is null || (MaxRelativeCost >= 1 && double.IsFinite(MaxRelativeCost.Value)), nameof(MaxRelativeCost), MaxRelativeCost, "must be a finite number >= 1 (the cheapest child's cost is 1)");
        Check(Candidates is null || (Candidates.Count > 0 && Candidates.All(Enum.IsDefined) && Candidates.Distinct().Count() == Candidates.Count),
            nameof(Candidates), Candidates is null ? null : string.Join(", ", Candidates), "must name at least one block, each once");
        Check(PenaltyCoefficient >= 0 && double.IsFinite(PenaltyCoefficient), nameof(PenaltyCoefficient), PenaltyCoefficient, "must be a finite number >= 0");
    }
}
