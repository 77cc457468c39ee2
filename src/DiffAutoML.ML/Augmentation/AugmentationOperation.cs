namespace DiffAutoML.ML.Augmentation;

/// <summary>The 14 image operations of the DiffAutoML (AutoAugment) search space, in the paper's order.</summary>
public enum AugmentationOperation
{
    /// <summary>Per-channel stretch of [min, max] to [0, 255].</summary>
    AutoContrast,
    /// <summary>Per-channel histogram equalization (PIL's algorithm).</summary>
    Equalize,
    /// <summary>Rotation about the centre, counter-clockwise for a positive angle.</summary>
    Rotate,
    /// <summary>Keeps the top bits of every value.</summary>
    Posterize,
    /// <summary>Inverts the values at or above a threshold.</summary>
    Solarize,
    /// <summary>Blend with the grey image (saturation).</summary>
    Color,
    /// <summary>Blend with the image's mean grey level.</summary>
    Contrast,
    /// <summary>Blend with black.</summary>
    Brightness,
    /// <summary>Blend with a smoothed image.</summary>
    Sharpness,
    /// <summary>Horizontal shear.</summary>
    ShearX,
    /// <summary>Vertical shear.</summary>
    ShearY,
    /// <summary>Horizontal translation.</summary>
    TranslateX,
    /// <summary>Vertical translation.</summary>
    TranslateY,
    /// <summary>No change.</summary>
    Identity,
}
