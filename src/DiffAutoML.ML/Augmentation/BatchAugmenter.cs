using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Applies a different operation, magnitude level and sign to every sample of a batch in one call: samples are
/// grouped by operation (a loop over the 14 operations, never over images), the geometric ones share one affine warp.
/// </summary>
public static class BatchAugmenter
{
    /// <summary>
    /// Applies <paramref name="operations"/>[i] at level <paramref name="levels"/>[i] (0..10) with sign
    /// <paramref name="signs"/>[i] (+1 or -1, used by the signed operations) to sample i of float images
    /// [B, C, H, W] holding 0..255. Returns a new tensor.
    /// </summary>
    public static Tensor Apply(Tensor images, IReadOnlyList<AugmentationOperation> operations, Tensor levels, Tensor signs, double fill = 0)
    {
        long batch = images.shape[0], height = images.shape[2], width = images.shape[3];
        if (operations.Count != batch) throw new ArgumentException($"{operations.Count} operations for a batch of {batch}.", nameof(operations));
        var result = images.clone();
        var device = images.device;

        var geometricRows = new List<long>();
        var geometricMatrices = new List<Tensor>();
        foreach (var group in Enumerable.Range(0, operations.Count).GroupBy(i => operations[i]))
        {
            var op = group.Key;
            if (op == AugmentationOperation.Identity) continue;
            var rows = group.Select(i => (long)i).ToArray();
            var index = tensor(rows, device: device);
            var level = levels.index_select(0, index);
            if (AugmentationMagnitudes.IsGeometric(op))
            {
                var signed = level * signs.index_select(0, index);
                geometricRows.AddRange(rows);
                geometricMatrices.Add(op switch
                {
                    AugmentationOperation.ShearX => AffineWarp.ShearX(AugmentationMagnitudes.Shear(signed)),
                    AugmentationOperation.ShearY => AffineWarp.ShearY(AugmentationMagnitudes.Shear(signed)),
                    AugmentationOperation.TranslateX => AffineWarp.TranslateX(AugmentationMagnitudes.TranslatePixels(signed, (int)width)),
                    AugmentationOperation.TranslateY => AffineWarp.TranslateY(AugmentationMagnitudes.TranslatePixels(signed, (int)height)),
                    _ => AffineWarp.Rotate(AugmentationMagnitudes.RotateDegrees(signed), height, width),
                });
                continue;
            }
            var subset = images.index_select(0, index);
            var changed = op switch
            {
                AugmentationOperation.AutoContrast => PixelOperations.AutoContrast(subset),
                AugmentationOperation.Equalize => PixelOperations.Equalize(subset),
                AugmentationOperation.Posterize => PixelOperations.Posterize(subset, AugmentationMagnitudes.PosterizeBits(level)),
                AugmentationOperation.Solarize => PixelOperations.Solarize(subset, AugmentationMagnitudes.SolarizeThreshold(level)),
                AugmentationOperation.Color => PixelOperations.Color(subset, AugmentationMagnitudes.EnhanceFactor(level)),
                AugmentationOperation.Contrast => PixelOperations.Contrast(subset, AugmentationMagnitudes.EnhanceFactor(level)),
                AugmentationOperation.Brightness => PixelOperations.Brightness(subset, AugmentationMagnitudes.EnhanceFactor(level)),
                AugmentationOperation.Sharpness => PixelOperations.Sharpness(subset, AugmentationMagnitudes.EnhanceFactor(level)),
                _ => throw new ArgumentOutOfRangeException(nameof(operations), op, "Unknown augmentation operation."),
            };
            result.index_copy_(0, index, changed);
        }
        if (geometricRows.Count > 0)
        {
            var index = tensor(geometricRows.ToArray(), device: device);
            var warped = AffineWarp.Apply(images.index_select(0, index), cat(geometricMatrices, 0), fill);
            result.index_copy_(0, index, warped);
        }
        return result;
    }
}
