namespace DiffAutoML.ML.Augmentation;

/// <summary>Which operations the policy may combine.</summary>
public enum AugmentationSpace
{
    /// <summary>All 14 operations: 196 ordered pairs (the paper's default).</summary>
    Full,
    /// <summary>ShearX, ShearY, TranslateX, TranslateY: 16 pairs (the paper's restricted space).</summary>
    Geometric,
}
