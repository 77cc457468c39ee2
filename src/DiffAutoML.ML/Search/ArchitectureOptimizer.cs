namespace DiffAutoML.ML.Search;

/// <summary>Optimizer for alpha.</summary>
public enum ArchitectureOptimizer
{
    /// <summary>Adam (DSNAS code: lr 1e-3, betas 0.5 / 0.999, no decay).</summary>
    Adam,
    /// <summary>SGD with momentum (the paper's appendix).</summary>
    Sgd,
}
