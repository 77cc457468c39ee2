using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Maps a magnitude level l in [0, 10] to each operation's parameter, as in AutoAugment/PBA
/// (table in ../shared/reference/algorithm.md, "Data augmentation"). The one place these numbers live.
/// </summary>
public static class AugmentationMagnitudes
{
    /// <summary>Largest level.</summary>
    public const double MaxLevel = 10;

    /// <summary>Whether the operation's parameter takes a random sign (p = 0.5).</summary>
    public static bool IsSigned(AugmentationOperation op) => op is AugmentationOperation.ShearX or AugmentationOperation.ShearY
        or AugmentationOperation.TranslateX or AugmentationOperation.TranslateY or AugmentationOperation.Rotate;

    /// <summary>Whether the operation moves pixels (done through one affine matrix per sample).</summary>
    public static bool IsGeometric(AugmentationOperation op) => IsSigned(op);

    /// <summary>Shear factor 0.3 l / 10.</summary>
    public static double Shear(double level) => 0.3 * level / MaxLevel;

    /// <summary>Translation in pixels: (l / 10) x 0.45 x side (relative, so it scales with the image).</summary>
    public static double TranslatePixels(double level, int side) => level / MaxLevel * 0.45 * side;

    /// <summary>Rotation in degrees: 30 l / 10.</summary>
    public static double RotateDegrees(double level) => 30 * level / MaxLevel;

    /// <summary>Enhancement factor 0.1 + 1.8 l / 10, in [0.1, 1.9] (1 = unchanged, at level 5).</summary>
    public static double EnhanceFactor(double level) => 0.1 + 1.8 * level / MaxLevel;

    /// <summary>Bits kept by Posterize: 8 - round(4 l / 10), i.e. 8 down to 4 (never 0).</summary>
    public static int PosterizeBits(double level) => 8 - (int)Math.Floor(4 * level / MaxLevel + 0.5);

    /// <summary>Solarize threshold 256 - 256 l / 10 (values at or above it are inverted).</summary>
    public static double SolarizeThreshold(double level) => 256 - 256 * level / MaxLevel;

    // Tensor forms of the same mappings, for per-sample levels on the training device.
    internal static Tensor Shear(Tensor level) => level * Scalars.Of(0.3 / MaxLevel);

    internal static Tensor TranslatePixels(Tensor level, int side) => level * Scalars.Of(0.45 * side / MaxLevel);

    internal static Tensor RotateDegrees(Tensor level) => level * Scalars.Of(30 / MaxLevel);

    internal static Tensor EnhanceFactor(Tensor level) => (level * Scalars.Of(1.8 / MaxLevel)).add_(Scalars.Of(0.1), Scalars.One);

    internal static Tensor PosterizeBits(Tensor level) => (level * Scalars.Of(4 / MaxLevel)).add_(Scalars.Of(0.5), Scalars.One).floor_().neg_().add_(Scalars.Of(8), Scalars.One); // 8 - floor(...)

    internal static Tensor SolarizeThreshold(Tensor level) => (level * Scalars.Of(256 / MaxLevel)).neg_().add_(Scalars.Of(256), Scalars.One); // 256 - ...
}
