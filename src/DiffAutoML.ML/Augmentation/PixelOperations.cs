using TorchSharp;
using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The colour operations as batched tensor functions with PIL's semantics (../shared/reference/algorithm.md).
/// Input: float [B, C, H, W] holding whole numbers 0..255 (C = 1 or 3); per-sample parameters as float [B].
/// Output: the same shape, whole numbers 0..255. Same code on CPU and CUDA; no per-image loops.
/// </summary>
/// <remarks>
/// Operations that map each value through a function of the value alone (Posterize, Solarize, Brightness, Contrast,
/// AutoContrast, Equalize) are written as per-sample lookup tables [B, C or 1, 256], so that a batch whose samples
/// use different operations is transformed by one table gather (<see cref="BatchAugmenter"/>).
/// </remarks>
public static class PixelOperations
{
    private static Tensor PerSample(Tensor parameter) => parameter.view(-1, 1, 1, 1);

    /// <summary>The 256 input values as a table row [1, 1, 256].</summary>
    public static Tensor IdentityTable(Device device) => arange(Scalars.Of(0), Scalars.Of(256), Scalars.One, ScalarType.Float32, device).view(1, 1, 256);

    /// <summary>Maps every value through its sample's (and channel's) table [B, C or 1, 256].</summary>
    public static Tensor ApplyTable(Tensor images, Tensor table)
    {
        long b = images.shape[0], c = images.shape[1];
        var index = images.to(ScalarType.Int64).view(b, c, -1);
        return table.expand(b, c, 256).gather(2, index).view(images.shape);
    }

    /// <summary>PIL's integer luminance L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 as [B, 1, H, W]; exact in
    /// float32 (the largest sum, 255 x 2^16 + 2^15, is below 2^24). A 1-channel image is its own luminance.</summary>
    public static Tensor Luminance(Tensor images)
    {
        if (images.shape[1] == 1) return images.clone();
        var r = images.narrow(1, 0, 1);
        var g = images.narrow(1, 1, 1);
        var b = images.narrow(1, 2, 1);
        return (r * Scalars.Of(19595)).add_(g * Scalars.Of(38470), Scalars.One).add_(b * Scalars.Of(7471), Scalars.One)
            .add_(Scalars.Of(32768), Scalars.One).div_(Scalars.Of(65536)).floor_();
    }

    /// <summary>PIL's blend: out = trunc(clamp(D + f (I - D), 0, 255)); f is per sample, D broadcasts.</summary>
    public static Tensor Blend(Tensor degenerate, Tensor images, Tensor factor)
        => (PerSample(factor) * (images - degenerate)).add_(degenerate, Scalars.One).clamp_(Scalars.Of(0), Scalars.Of(255)).floor_();

    /// <summary>Color: blend with the grey image (identity on 1-channel images).</summary>
    public static Tensor Color(Tensor images, Tensor factor)
        => images.shape[1] == 1 ? images.clone() : Blend(Luminance(images), images, factor);

    /// <summary>Contrast table: blend with the constant round(mean(L)) of each image.</summary>
    public static Tensor ContrastTable(Tensor images, Tensor factor)
    {
        // Mean in float64: a float32 sum of a large image's luminance would no longer be exact.
        var mean = Luminance(images).to(ScalarType.Float64).mean(new long[] { 1, 2, 3 }, keepdim: true).add_(Scalars.Of(0.5), Scalars.One).floor_().to(images.dtype);
        return Blend(mean, IdentityTable(images.device).unsqueeze(0), factor).squeeze(2);
    }

    /// <summary>Contrast: blend with the constant round(mean(L)) of each image.</summary>
    public static Tensor Contrast(Tensor images, Tensor factor) => ApplyTable(images, ContrastTable(images, factor));

    /// <summary>Brightness table: blend with black.</summary>
    public static Tensor BrightnessTable(Tensor factor) => Blend(zeros(1, device: factor.device), IdentityTable(factor.device).unsqueeze(0), factor).squeeze(2);

    /// <summary>Brightness: blend with black.</summary>
    public static Tensor Brightness(Tensor images, Tensor factor) => ApplyTable(images, BrightnessTable(factor));

    /// <summary>Sharpness: blend with the image smoothed by [[1,1,1],[1,5,1],[1,1,1]] / 13 (rounded), whose border
    /// pixels keep their values (PIL's SMOOTH filter).</summary>
    public static Tensor Sharpness(Tensor images, Tensor factor) => Blend(SharpnessDegenerate(images), images, factor);

    /// <summary>The image Sharpness blends with: smoothed by [[1,1,1],[1,5,1],[1,1,1]] / 13 (rounded), border pixels
    /// unchanged.</summary>
    public static Tensor SharpnessDegenerate(Tensor images)
    {
        long height = images.shape[2], width = images.shape[3];
        var degenerate = images.clone();
        if (height >= 3 && width >= 3)
        {
            // Nine shifted views summed in place: exact integer sums, and much faster on the CPU than a 3x3 conv2d
            // (measured 9-26 ms for a 256 x 1 x 28 x 28 batch through conv2d). sum / 13 is never near a .5 tie.
            Tensor Window(long dy, long dx) => images.narrow(2, dy, height - 2).narrow(3, dx, width - 2);
            var smoothed = Window(1, 1) * Scalars.Of(5);
            for (long dy = 0; dy < 3; dy++)
                for (long dx = 0; dx < 3; dx++)
                    if (dy != 1 || dx != 1) smoothed.add_(Window(dy, dx), Scalars.One);
            smoothed.div_(Scalars.Of(13)).add_(Scalars.Of(0.5), Scalars.One).floor_();
            degenerate.narrow(2, 1, height - 2).narrow(3, 1, width - 2).copy_(smoothed);
        }
        return degenerate;
    }

    /// <summary>Posterize table: keep the top <paramref name="bits"/> bits (p &amp; ~(2^(8-bits) - 1)).</summary>
    public static Tensor PosterizeTable(Tensor bits)
    {
        var step = pow(2.0, bits.view(-1, 1, 1).neg().add_(Scalars.Of(8), Scalars.One)); // 2^(8 - bits)
        return (IdentityTable(bits.device) / step).floor_().mul_(step);
    }

    /// <summary>Posterize: keep the top <paramref name="bits"/> bits.</summary>
    public static Tensor Posterize(Tensor images, Tensor bits) => ApplyTable(images, PosterizeTable(bits));

    /// <summary>Solarize table: p &gt;= threshold becomes 255 - p.</summary>
    public static Tensor SolarizeTable(Tensor threshold)
    {
        var values = IdentityTable(threshold.device);
        return where(values >= threshold.view(-1, 1, 1), values.neg().add_(Scalars.Of(255), Scalars.One), values);
    }

    /// <summary>Solarize: p &gt;= threshold becomes 255 - p.</summary>
    public static Tensor Solarize(Tensor images, Tensor threshold) => ApplyTable(images, SolarizeTable(threshold));

    /// <summary>AutoContrast table per channel: floor((p - lo) 255 / (hi - lo)); identity where hi &lt;= lo.</summary>
    public static Tensor AutoContrastTable(Tensor images)
    {
        var lo = images.amin(new long[] { 2, 3 }).unsqueeze(2);
        var hi = images.amax(new long[] { 2, 3 }).unsqueeze(2);
        var range = hi - lo;
        var values = IdentityTable(images.device);
        // (p - lo) * 255 is exact; the quotient is at least 1/255 away from a whole number unless it is one.
        var stretched = ((values - lo) * Scalars.Of(255) / range.clamp_min(Scalars.Of(1))).floor_().clamp_(Scalars.Of(0), Scalars.Of(255));
        return where(range.gt(Scalars.Of(0)), stretched, values);
    }

    /// <summary>AutoContrast per channel.</summary>
    public static Tensor AutoContrast(Tensor images) => ApplyTable(images, AutoContrastTable(images));

    /// <summary>
    /// Equalize table per channel, PIL's algorithm: histogram h; step = (N - h[last non-zero bin]) // 255; identity
    /// when step = 0; lut[i] = min(255, (step // 2 + sum_{j&lt;i} h[j]) // step).
    /// </summary>
    public static Tensor EqualizeTable(Tensor images)
    {
        long b = images.shape[0], c = images.shape[1], n = images.shape[2] * images.shape[3];
        // One bincount over all (sample, channel) rows: value v of row r counts in bin 256 r + v.
        using var rowsEnd = (b * c * 256).ToScalar();
        using var pixels = n.ToScalar();
        var offsets = arange(Scalars.Of(0), rowsEnd, Scalars.Of(256), ScalarType.Int64, images.device).view(b * c, 1);
        var histogram = bincount(images.to(ScalarType.Int64).view(b * c, n).add(offsets, Scalars.One).view(-1), minlength: b * c * 256).view(b * c, 256);
        var bins = arange(Scalars.Of(0), Scalars.Of(256), Scalars.One, ScalarType.Int64, images.device).expand(b * c, 256);
        var lastBin = where(histogram.gt(Scalars.Of(0)), bins, zeros_like(bins)).amax(new long[] { 1 }, keepdim: true);
        var step = histogram.gather(1, lastBin).neg().add_(pixels, Scalars.One).div(Scalars.Of(255), rounding_mode: RoundingMode.floor);
        var before = histogram.cumsum(1) - histogram; // exclusive cumulative sum
        var lut = before.add(step.div(Scalars.Of(2), rounding_mode: RoundingMode.floor), Scalars.One).div(step.clamp_min(Scalars.Of(1)), rounding_mode: RoundingMode.floor).clamp_max(Scalars.Of(255));
        return where(step.gt(Scalars.Of(0)), lut, bins).view(b, c, 256).to(images.dtype);
    }

    /// <summary>Equalize per channel.</summary>
    public static Tensor Equalize(Tensor images) => ApplyTable(images, EqualizeTable(images));
}
