using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Applies a different operation, magnitude level and sign to every sample of a batch in one call, without grouping
/// samples on the host: every value-wise operation becomes a per-sample lookup table and one gather applies them all;
/// the geometric operations share one affine warp (one matrix per sample); Color and Sharpness are computed for the
/// batch and selected per sample. The operation ids stay on the device, so no host-device synchronization is needed.
/// </summary>
public static class BatchAugmenter
{
    private static readonly AugmentationOperation[] TableOperations =
    {
        AugmentationOperation.AutoContrast, AugmentationOperation.Equalize, AugmentationOperation.Posterize,
        AugmentationOperation.Solarize, AugmentationOperation.Contrast, AugmentationOperation.Brightness,
    };

    /// <summary>Host-side convenience: <paramref name="operations"/>[i] for sample i.</summary>
    public static Tensor Apply(Tensor images, IReadOnlyList<AugmentationOperation> operations, Tensor levels, Tensor signs, double fill = 0)
        => Apply(images, tensor(operations.Select(o => (long)o).ToArray(), device: images.device), levels, signs, operations.Distinct().ToArray(), fill);

    /// <summary>
    /// Applies operation <paramref name="operations"/>[i] (int64 ids of <see cref="AugmentationOperation"/>) at level
    /// <paramref name="levels"/>[i] (0..10) with sign <paramref name="signs"/>[i] (+1 or -1, used by the signed
    /// operations) to sample i of float images [B, C, H, W] holding 0..255. <paramref name="possible"/> lists the
    /// operations that may occur (the others are not computed). Returns a new tensor.
    /// </summary>
    public static Tensor Apply(Tensor images, Tensor operations, Tensor levels, Tensor signs, IReadOnlyCollection<AugmentationOperation> possible, double fill = 0)
    {
        using var scope = NewDisposeScope();
        long batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3];
        if (operations.shape[0] != batch) throw new ArgumentException($"{operations.shape[0]} operations for a batch of {batch}.", nameof(operations));
        Tensor Is(AugmentationOperation op) => operations.eq((long)op);
        Tensor PerImage(Tensor mask) => mask.view(batch, 1, 1, 1);
        var signed = levels * signs;

        // Value-wise operations: one table per sample and channel, identity unless the sample's operation has one.
        Tensor? table = null;
        foreach (var op in TableOperations.Where(possible.Contains))
        {
            var opTable = op switch
            {
                AugmentationOperation.AutoContrast => PixelOperations.AutoContrastTable(images),
                AugmentationOperation.Equalize => PixelOperations.EqualizeTable(images),
                AugmentationOperation.Posterize => PixelOperations.PosterizeTable(AugmentationMagnitudes.PosterizeBits(levels)),
                AugmentationOperation.Solarize => PixelOperations.SolarizeTable(AugmentationMagnitudes.SolarizeThreshold(levels)),
                AugmentationOperation.Contrast => PixelOperations.ContrastTable(images, AugmentationMagnitudes.EnhanceFactor(levels)),
                _ => PixelOperations.BrightnessTable(AugmentationMagnitudes.EnhanceFactor(levels)),
            };
            table = where(Is(op).view(batch, 1, 1), opTable, table ?? PixelOperations.IdentityTable(images.device)).expand(batch, channels, 256);
        }
        var result = table is null ? images.clone() : PixelOperations.ApplyTable(images, table);

        if (possible.Contains(AugmentationOperation.Color))
            result = where(PerImage(Is(AugmentationOperation.Color)), PixelOperations.Color(images, AugmentationMagnitudes.EnhanceFactor(levels)), result);
        if (possible.Contains(AugmentationOperation.Sharpness))
            result = where(PerImage(Is(AugmentationOperation.Sharpness)), PixelOperations.Sharpness(images, AugmentationMagnitudes.EnhanceFactor(levels)), result);

        // Geometric operations: one affine matrix per sample (identity for the others), one warp for the batch.
        var geometric = possible.Where(AugmentationMagnitudes.IsGeometric).ToArray();
        if (geometric.Length > 0)
        {
            Tensor? matrices = null;
            Tensor? anyGeometric = null;
            foreach (var op in geometric)
            {
                var m = op switch
                {
                    AugmentationOperation.ShearX => AffineWarp.ShearX(AugmentationMagnitudes.Shear(signed)),
                    AugmentationOperation.ShearY => AffineWarp.ShearY(AugmentationMagnitudes.Shear(signed)),
                    AugmentationOperation.TranslateX => AffineWarp.TranslateX(AugmentationMagnitudes.TranslatePixels(signed, (int)width)),
                    AugmentationOperation.TranslateY => AffineWarp.TranslateY(AugmentationMagnitudes.TranslatePixels(signed, (int)height)),
                    _ => AffineWarp.Rotate(AugmentationMagnitudes.RotateDegrees(signed), height, width),
                };
                matrices = matrices is null ? m : where(Is(op).view(batch, 1, 1), m, matrices);
                anyGeometric = anyGeometric is null ? Is(op) : anyGeometric.logical_or(Is(op));
            }
            result = where(PerImage(anyGeometric!), AffineWarp.Apply(images, matrices!, fill), result);
        }
        return result.MoveToOuterDisposeScope();
    }
}
