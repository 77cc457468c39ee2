namespace DiffAutoML.ML.Api;

/// <summary>Ready-made option sets for <see cref="DiffAutoMLOptions.FromProfile"/> (CLI <c>--profile</c>).</summary>
public enum DiffAutoMLProfile
{
    /// <summary>The paper's method (DSNAS): a third of the epochs searching all four blocks, every child sampled, the
    /// weight decay learned from the first step, no cost budget. The defaults of <see cref="DiffAutoMLOptions"/>.</summary>
    Paper,

    /// <summary>
    /// What measured best when compute is short (docs/getting-started.md, "Profiles"): the child's measured training
    /// cost within 1.1x the cheapest child's, the supernet trained only on such children, the three ShuffleNet blocks
    /// with shared kernels, 15% of the epochs searching, the weight decay learned once the architecture is fixed. Still
    /// the joint search of augmentation, architecture and hyper-parameters; not in the paper.
    /// </summary>
    Efficient,
}
