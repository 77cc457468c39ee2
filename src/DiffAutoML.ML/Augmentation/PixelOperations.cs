using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The colour operations as batched tensor functions with PIL's semantics (../shared/reference/algorithm.md).
/// Input: float [B, C, H, W] holding whole numbers 0..255 (C = 1 or 3); per-sample parameters as float [B].
/// Output: the same shape, whole numbers 0..255. Same code on CPU and CUDA; no per-image loops.
/// </summary>
public static class PixelOperations
{
    private static Tensor PerSample(Tensor parameter) => parameter.view(-1, 1, 1, 1);

    /// <summary>PIL's integer luminance L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 as [B, 1, H, W]; exact in
    /// float32 (the largest sum, 255 x 2^16 + 2^15, is below 2^24). A 1-channel image is its own luminance.</summary>
    public static Tensor Luminance(Tensor images)
    {
        if (images.shape[1] == 1) return images.clone();
        var r = images.narrow(1, 0, 1);
        var g = images.narrow(1, 1, 1);
        var b = images.narrow(1, 2, 1);
        return ((r * 19595 + g * 38470 + b * 7471 + 32768) / 65536).floor_();
    }

    /// <summary>PIL's blend: out = trunc(clamp(D + f (I - D), 0, 255)).</summary>
    public static Tensor Blend(Tensor degenerate, Tensor images, Tensor factor)
        => (degenerate + PerSample(factor) * (images - degenerate)).clamp_(0, 255).floor_();

    /// <summary>Color: blend with the grey image (identity on 1-channel images).</summary>
    public static Tensor Color(Tensor images, Tensor factor)
        => images.shape[1] == 1 ? images.clone() : Blend(Luminance(images).expand_as(images), images, factor);

    /// <summary>Contrast: blend with the constant round(mean(L)) of each image.</summary>
    public static Tensor Contrast(Tensor images, Tensor factor)
    {
        // Mean in float64: a float32 sum of a large image's luminance would no longer be exact.
        var mean = Luminance(images).to(ScalarType.Float64).mean(new long[] { 1, 2, 3 }, keepdim: true).add_(0.5).floor_().to(images.dtype);
        return Blend(mean.expand_as(images), images, factor);
    }

    /// <summary>Brightness: blend with black.</summary>
    public static Tensor Brightness(Tensor images, Tensor factor) => Blend(zeros_like(images), images, factor);

    /// <summary>Sharpness: blend with the image smoothed by [[1,1,1],[1,5,1],[1,1,1]] / 13 (rounded), whose border
    /// pixels keep their values (PIL's SMOOTH filter).</summary>
    public static Tensor Sharpness(Tensor images, Tensor factor)
    {
        long channels = images.shape[1], height = images.shape[2], width = images.shape[3];
        var degenerate = images.clone();
        if (height >= 3 && width >= 3)
        {
            var kernel = tensor(new float[] { 1, 1, 1, 1, 5, 1, 1, 1, 1 }, new long[] { 1, 1, 3, 3 }, device: images.device)
                .to(images.dtype).expand(channels, 1, 3, 3);
            // Integer kernel: the sum is exact, and sum / 13 is never within float error of a .5 tie.
            var smoothed = nn.functional.conv2d(images, kernel, groups: channels).div_(13).add_(0.5).floor_();
            degenerate.narrow(2, 1, height - 2).narrow(3, 1, width - 2).copy_(smoothed);
        }
        return Blend(degenerate, images, factor);
    }

    /// <summary>Posterize: keep the top <paramref name="bits"/> bits (p &amp; ~(2^(8-bits) - 1)).</summary>
    public static Tensor Posterize(Tensor images, Tensor bits)
    {
        var step = pow(2.0, 8 - PerSample(bits));
        return (images / step).floor_().mul_(step);
    }

    /// <summary>Solarize: p &gt;= threshold becomes 255 - p.</summary>
    public static Tensor Solarize(Tensor images, Tensor threshold)
        => where(images >= PerSample(threshold), 255 - images, images);

    /// <summary>AutoContrast per channel: out = floor((p - lo) 255 / (hi - lo)); unchanged where hi &lt;= lo.</summary>
    public static Tensor AutoContrast(Tensor images)
    {
        var lo = images.amin(new long[] { 2, 3 }, keepdim: true);
        var hi = images.amax(new long[] { 2, 3 }, keepdim: true);
        var range = hi - lo;
        // (p - lo) * 255 is exact; the quotient is at least 1/255 away from a whole number unless it is one.
        var stretched = ((images - lo) * 255 / range.clamp_min(1)).floor_().clamp_(0, 255);
        return where(range > 0, stretched, images);
    }

    /// <summary>
    /// Equalize per channel, PIL's algorithm: histogram h; step = (N - h[last non-zero bin]) // 255; unchanged when
    /// step = 0; lut[i] = min(255, (step // 2 + sum_{j&lt;i} h[j]) // step).
    /// </summary>
    public static Tensor Equalize(Tensor images)
    {
        long b = images.shape[0], c = images.shape[1], n = images.shape[2] * images.shape[3];
        var values = images.to(ScalarType.Int64).view(b * c, n);
        var histogram = zeros(b * c, 256, ScalarType.Int64, images.device).scatter_add_(1, values, ones_like(values));
        var bins = arange(256, ScalarType.Int64, images.device).expand(b * c, 256);
        var lastBin = where(histogram > 0, bins, zeros_like(bins)).amax(new long[] { 1 }, keepdim: true);
        var step = (n - histogram.gather(1, lastBin)).div(255, rounding_mode: RoundingMode.floor);
        var before = histogram.cumsum(1) - histogram; // exclusive cumulative sum
        var lut = (before + step.div(2, rounding_mode: RoundingMode.floor)).div(step.clamp_min(1), rounding_mode: RoundingMode.floor).clamp_max(255);
        lut = where(step > 0, lut, bins);
        return lut.gather(1, values).view(images.shape).to(images.dtype);
    }
}
