using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Applies a different operation, magnitude level and sign to every sample of a batch in one call. The samples are
/// grouped by operation on the device (a sort of the operation ids), each operation runs once, batched, on its group
/// only, and the results are scattered back: every sample costs one operation, not one of each. The only host read is
/// the 14 group sizes (one small device-to-host copy per call, or per sub-policy through <see cref="GroupSizes"/>);
/// there are no per-image loops.
/// </summary>
/// <remarks>
/// The first version computed every operation for the whole batch and selected per sample with masks (no host read at
/// all); it made about 25 full passes over the batch per stage and cost 10-15% of a small CNN's training step on the
/// CPU (docs/benchmarks.md). Grouping does the work once per sample.
/// </remarks>
public static class BatchAugmenter
{
    private static readonly int OperationCount = Enum.GetValues<AugmentationOperation>().Length;

    /// <summary>Host-side convenience: <paramref name="operations"/>[i] for sample i.</summary>
    public static Tensor Apply(Tensor images, IReadOnlyList<AugmentationOperation> operations, Tensor levels, Tensor signs, double fill = 0)
        => Apply(images, tensor(operations.Select(o => (long)o).ToArray(), device: images.device), levels, signs, fill);

    /// <summary>
    /// Applies operation <paramref name="operations"/>[i] (int64 ids of <see cref="AugmentationOperation"/>) at level
    /// <paramref name="levels"/>[i] (0..10) with sign <paramref name="signs"/>[i] (+1 or -1, used by the signed
    /// operations) to sample i of float images [B, C, H, W] holding 0..255. Returns a new tensor.
    /// </summary>
    public static Tensor Apply(Tensor images, Tensor operations, Tensor levels, Tensor signs, double fill = 0)
        => Apply(images, operations, levels, signs, fill, GroupSizes(operations)[0]);

    /// <summary>
    /// The number of samples of each operation in each of <paramref name="stages"/> (int64 ids), read to the host in one
    /// copy: the one synchronization of a call to <see cref="Apply(Tensor, Tensor, Tensor, Tensor, double, long[])"/>,
    /// shared by the stages of a sub-policy.
    /// </summary>
    public static long[][] GroupSizes(params Tensor[] stages)
    {
        using var scope = NewDisposeScope();
        // Ids above 13 are counted in one extra bin (clamped to 14), so every row has the same length and can be refused.
        var rows = stages.Select(ids => ids.to(ScalarType.Int64).clamp_max(Scalars.Of(OperationCount)).bincount(null, OperationCount + 1)).ToArray();
        var counts = stack(rows).cpu().data<long>().ToArray();
        var sizes = Enumerable.Range(0, stages.Length).Select(i => counts[(i * (OperationCount + 1))..((i + 1) * (OperationCount + 1))]).ToArray();
        if (sizes.Any(row => row[OperationCount] > 0)) throw new ArgumentOutOfRangeException(nameof(stages), "Operation ids must be 0..13.");
        return sizes.Select(row => row[..OperationCount]).ToArray();
    }

    /// <summary><see cref="Apply(Tensor, Tensor, Tensor, Tensor, double)"/> with the group sizes already read
    /// (<see cref="GroupSizes"/>): no host read.</summary>
    public static Tensor Apply(Tensor images, Tensor operations, Tensor levels, Tensor signs, double fill, long[] counts)
    {
        using var scope = NewDisposeScope();
        long batch = images.shape[0];
        if (operations.shape[0] != batch) throw new ArgumentException($"{operations.shape[0]} operations for a batch of {batch}.", nameof(operations));
        if (counts.Length != OperationCount || counts.Sum() != batch) throw new ArgumentException($"The group sizes must be {OperationCount} counts summing to the batch ({batch}).", nameof(counts));
        var ids = operations.to(ScalarType.Int64);
        // The sorted order lists each group's samples contiguously.
        var order = ids.argsort();
        var result = images.clone();
        long start = 0;
        for (int op = 0; op < OperationCount; op++)
        {
            long n = counts[op];
            if (n == 0) continue;
            var members = order.narrow(0, start, n);
            start += n;
            var operation = (AugmentationOperation)op;
            if (operation == AugmentationOperation.Identity) continue;
            var transformed = ApplyOne(operation, images.index_select(0, members), levels.index_select(0, members), signs.index_select(0, members), fill);
            result.index_copy_(0, members, transformed);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What <see cref="Apply(Tensor, Tensor, Tensor, Tensor, double, long[])"/> returns, bit for bit, without reading
    /// anything to the host: every sample's affine matrix, value table and blend are computed for the whole batch (the
    /// affine matrix of a non-geometric sample is the identity), one warp, one table lookup and one blend run over the
    /// batch, and each sample takes the output of its own kind of operation (its input for Identity, and for Color on
    /// one-channel images). Every operation is per sample (its tables and statistics come from that sample alone), so
    /// computing it for the whole batch gives each sample what its group would. For CUDA, where the group sizes' host
    /// read makes the CPU wait for the device in the middle of every step; on the CPU, where grouping does each sample's
    /// work once, <see cref="Apply(Tensor, Tensor, Tensor, Tensor, double, long[])"/> is cheaper (docs/benchmarks.md).
    /// </summary>
    /// <remarks>The ids are not checked (that would be a host read): they come from <see cref="AugmentationPolicy.Sample"/>.
    /// An id outside 0..13 leaves its sample unchanged.</remarks>
    internal static Tensor ApplyBySelection(Tensor images, Tensor operations, Tensor levels, Tensor signs, double fill)
    {
        using var scope = NewDisposeScope();
        long batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3];
        if (operations.shape[0] != batch) throw new ArgumentException($"{operations.shape[0]} operations for a batch of {batch}.", nameof(operations));
        var ids = operations.to(ScalarType.Int64);
        // Per sample, shaped to broadcast over [B, 2, 3] matrices, [B, C, 256] tables and [B, C, H, W] images.
        Tensor Is(AugmentationOperation op, int dimensions) => ids.eq(Scalars.Of((long)op)).view(new[] { batch }.Concat(Enumerable.Repeat(1L, dimensions - 1)).ToArray());
        Tensor IsAny(IEnumerable<AugmentationOperation> ops) => ops.Select(op => Is(op, 4)).Aggregate((a, b) => a.logical_or(b));

        var signed = levels * signs;
        var matrices = AffineWarp.TranslateX(zeros_like(levels)); // the identity
        var geometric = new[]
        {
            (Op: AugmentationOperation.ShearX, Matrices: AffineWarp.ShearX(AugmentationMagnitudes.Shear(signed))),
            (Op: AugmentationOperation.ShearY, Matrices: AffineWarp.ShearY(AugmentationMagnitudes.Shear(signed))),
            (Op: AugmentationOperation.TranslateX, Matrices: AffineWarp.TranslateX(AugmentationMagnitudes.TranslatePixels(signed, (int)width))),
            (Op: AugmentationOperation.TranslateY, Matrices: AffineWarp.TranslateY(AugmentationMagnitudes.TranslatePixels(signed, (int)height))),
            (Op: AugmentationOperation.Rotate, Matrices: AffineWarp.Rotate(AugmentationMagnitudes.RotateDegrees(signed), height, width)),
        };
        foreach (var (op, m) in geometric) matrices = where(Is(op, 3), m, matrices);

        var factor = AugmentationMagnitudes.EnhanceFactor(levels);
        var table = PixelOperations.IdentityTable(images.device).expand(batch, channels, 256);
        var tabulated = new[]
        {
            (Op: AugmentationOperation.Posterize, Table: PixelOperations.PosterizeTable(AugmentationMagnitudes.PosterizeBits(levels))),
            (Op: AugmentationOperation.Solarize, Table: PixelOperations.SolarizeTable(AugmentationMagnitudes.SolarizeThreshold(levels))),
            (Op: AugmentationOperation.Brightness, Table: PixelOperations.BrightnessTable(factor)),
            (Op: AugmentationOperation.Contrast, Table: PixelOperations.ContrastTable(images, factor)),
            (Op: AugmentationOperation.AutoContrast, Table: PixelOperations.AutoContrastTable(images)),
            (Op: AugmentationOperation.Equalize, Table: PixelOperations.EqualizeTable(images)),
        };
        foreach (var (op, t) in tabulated) table = where(Is(op, 3), t, table);

        // Color is the identity on one-channel images (PixelOperations.Color).
        var blended = channels == 1 ? new[] { AugmentationOperation.Sharpness } : new[] { AugmentationOperation.Sharpness, AugmentationOperation.Color };
        var degenerate = PixelOperations.SharpnessDegenerate(images);
        if (channels > 1) degenerate = where(Is(AugmentationOperation.Color, 4), PixelOperations.Luminance(images), degenerate);

        var result = where(IsAny(geometric.Select(g => g.Op)), AffineWarp.Apply(images, matrices, fill), images);
        result = where(IsAny(tabulated.Select(t => t.Op)), PixelOperations.ApplyTable(images, table), result);
        result = where(IsAny(blended), PixelOperations.Blend(degenerate, images, factor), result);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>One operation on every sample of <paramref name="images"/>, with per-sample levels and signs.</summary>
    private static Tensor ApplyOne(AugmentationOperation operation, Tensor images, Tensor levels, Tensor signs, double fill)
    {
        long height = images.shape[2], width = images.shape[3];
        return operation switch
        {
            AugmentationOperation.AutoContrast => PixelOperations.AutoContrast(images),
            AugmentationOperation.Equalize => PixelOperations.Equalize(images),
            AugmentationOperation.Posterize => PixelOperations.Posterize(images, AugmentationMagnitudes.PosterizeBits(levels)),
            AugmentationOperation.Solarize => PixelOperations.Solarize(images, AugmentationMagnitudes.SolarizeThreshold(levels)),
            AugmentationOperation.Contrast => PixelOperations.Contrast(images, AugmentationMagnitudes.EnhanceFactor(levels)),
            AugmentationOperation.Brightness => PixelOperations.Brightness(images, AugmentationMagnitudes.EnhanceFactor(levels)),
            AugmentationOperation.Color => PixelOperations.Color(images, AugmentationMagnitudes.EnhanceFactor(levels)),
            AugmentationOperation.Sharpness => PixelOperations.Sharpness(images, AugmentationMagnitudes.EnhanceFactor(levels)),
            AugmentationOperation.ShearX => AffineWarp.Apply(images, AffineWarp.ShearX(AugmentationMagnitudes.Shear(levels * signs)), fill),
            AugmentationOperation.ShearY => AffineWarp.Apply(images, AffineWarp.ShearY(AugmentationMagnitudes.Shear(levels * signs)), fill),
            AugmentationOperation.TranslateX => AffineWarp.Apply(images, AffineWarp.TranslateX(AugmentationMagnitudes.TranslatePixels(levels * signs, (int)width)), fill),
            AugmentationOperation.TranslateY => AffineWarp.Apply(images, AffineWarp.TranslateY(AugmentationMagnitudes.TranslatePixels(levels * signs, (int)height)), fill),
            AugmentationOperation.Rotate => AffineWarp.Apply(images, AffineWarp.Rotate(AugmentationMagnitudes.RotateDegrees(levels * signs), height, width), fill),
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "Unknown operation."),
        };
    }
}
