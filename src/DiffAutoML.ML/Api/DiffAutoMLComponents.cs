namespace DiffAutoML.ML.Api;

/// <summary>Which parts of the joint search run. Ablations and baselines share one code path.</summary>
[Flags]
public enum DiffAutoMLComponents
{
    /// <summary>Plain training of a fixed architecture, fixed hyper-parameters, no augmentation.</summary>
    None = 0,
    /// <summary>Learned augmentation policy (tau).</summary>
    Augmentation = 1,
    /// <summary>Architecture search (alpha).</summary>
    Architecture = 2,
    /// <summary>Hypergradient tuning of weight decay (and learning rate when enabled).</summary>
    HyperParameters = 4,
    /// <summary>The full method: all three, jointly.</summary>
    All = Augmentation | Architecture | HyperParameters,
}
