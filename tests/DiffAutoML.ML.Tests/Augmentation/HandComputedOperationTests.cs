using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Augmentation;

/// <summary>Each operation on small hand-made images against pixels computed by hand.</summary>
public class HandComputedOperationTests
{
    public HandComputedOperationTests() => TorchRuntime.EnsureCpu();

    private static Tensor Image(int channels, int height, int width, params float[] values)
        => tensor(values, new long[] { 1, channels, height, width });

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    private static bool Same(Tensor a, Tensor b) => Values(a).SequenceEqual(Values(b));

    private static Tensor One(double value) => tensor(new[] { (float)value });

    private static readonly float[] Grid4 = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();

    [Fact]
    public void Rotate_by_90_degrees_turns_counter_clockwise()
    {
        using var scope = NewDisposeScope();
        var image = Image(1, 4, 4, Grid4);
        var rotated = AffineWarp.Apply(image, AffineWarp.Rotate(One(90), 4, 4), fill: 0);
        // Counter-clockwise: out[y][x] = in[x][W - 1 - y]; the top row is the input's right column read downwards.
        Assert.Equal(new float[] { 3, 7, 11, 15, 2, 6, 10, 14, 1, 5, 9, 13, 0, 4, 8, 12 }, Values(rotated));
        var odd = AffineWarp.Apply(Image(1, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8), AffineWarp.Rotate(One(90), 3, 3), 0);
        Assert.Equal(new float[] { 2, 5, 8, 1, 4, 7, 0, 3, 6 }, Values(odd));
    }

    [Fact]
    public void Translation_by_whole_pixels_shifts_and_fills()
    {
        using var scope = NewDisposeScope();
        var image = Image(1, 4, 4, Grid4);
        // PIL's TranslateX(v): x_in = x + v, so the content moves left by v and the right column is filled.
        Assert.Equal(new float[] { 1, 2, 3, 9, 5, 6, 7, 9, 9, 10, 11, 9, 13, 14, 15, 9 },
            Values(AffineWarp.Apply(image, AffineWarp.TranslateX(One(1)), fill: 9)));
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7 },
            Values(AffineWarp.Apply(image, AffineWarp.TranslateY(One(-2)), fill: 0)));
    }

    [Fact]
    public void Shear_moves_rows_in_proportion_to_their_height()
    {
        using var scope = NewDisposeScope();
        // ShearX(0.5): x_in = (x + 0.5) + 0.5 (y + 0.5), floored.
        var sheared = Values(AffineWarp.Apply(Image(1, 4, 4, Grid4), AffineWarp.ShearX(One(0.5)), fill: 0));
        Assert.Equal(new float[] { 0, 1, 2, 3 }, sheared[..4]);       // row 0: x_in = x + 0.75 -> x
        Assert.Equal(new float[] { 5, 6, 7, 0 }, sheared[4..8]);      // row 1: x_in = x + 1.25 -> x + 1
        Assert.Equal(new float[] { 14, 15, 0, 0 }, sheared[12..]);    // row 3: x_in = x + 2.25 -> x + 2
    }

    [Fact]
    public void Zero_magnitude_is_the_identity_for_every_operation_with_a_magnitude()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var images = randint(0, 256, new long[] { 4, 3, 7, 9 }, generator: generator).to(ScalarType.Float32);
        var level0 = zeros(4);
        var signs = ones(4);
        foreach (var op in new[] { AugmentationOperation.Rotate, AugmentationOperation.ShearX, AugmentationOperation.ShearY,
                     AugmentationOperation.TranslateX, AugmentationOperation.TranslateY, AugmentationOperation.Posterize,
                     AugmentationOperation.Solarize, AugmentationOperation.Identity })
            Assert.True(Same(BatchAugmenter.Apply(images, Enumerable.Repeat(op, 4).ToArray(), level0, signs), images), op.ToString());
        // The enhancement operations are unchanged at factor 1, which the AutoAugment mapping puts at level 5.
        Assert.Equal(1.0, AugmentationMagnitudes.EnhanceFactor(5), 12);
        var neutral = full(4, 5f);
        foreach (var op in new[] { AugmentationOperation.Color, AugmentationOperation.Contrast, AugmentationOperation.Brightness, AugmentationOperation.Sharpness })
            Assert.True(Same(BatchAugmenter.Apply(images, Enumerable.Repeat(op, 4).ToArray(), neutral, signs), images), op.ToString());
    }

    [Fact]
    public void Equalize_follows_pils_lookup_table()
    {
        using var scope = NewDisposeScope();
        // 1,024 pixels: 300 of value 5, 400 of 50, 324 of 200. step = (1024 - 324) // 255 = 2;
        // lut[5] = (1 + 0) // 2 = 0, lut[50] = (1 + 300) // 2 = 150, lut[200] = min(255, (1 + 700) // 2) = 255.
        var values = Enumerable.Repeat(5f, 300).Concat(Enumerable.Repeat(50f, 400)).Concat(Enumerable.Repeat(200f, 324)).ToArray();
        var equalized = Values(PixelOperations.Equalize(Image(1, 32, 32, values)));
        Assert.Equal(new float[] { 0, 150, 255 }, new[] { equalized[0], equalized[300], equalized[700] });
        Assert.Equal(300, equalized.Count(v => v == 0));
        // step = 0 (too few pixels) leaves the image unchanged.
        var small = Image(1, 2, 2, 1, 2, 3, 4);
        Assert.True(Same(PixelOperations.Equalize(small), small));
    }

    [Fact]
    public void AutoContrast_stretches_each_channel_on_its_own()
    {
        using var scope = NewDisposeScope();
        // channel 0: 50, 100, 150 -> floor((p - 50) 255 / 100) = 0, 127, 255; channel 1 constant: unchanged
        var image = Image(3, 1, 3, 50, 100, 150, 7, 7, 7, 0, 1, 255);
        Assert.Equal(new float[] { 0, 127, 255, 7, 7, 7, 0, 1, 255 }, Values(PixelOperations.AutoContrast(image)));
    }

    [Theory]
    [InlineData(8, 183)]
    [InlineData(7, 182)]
    [InlineData(6, 180)]
    [InlineData(5, 176)]
    [InlineData(4, 176)]
    public void Posterize_keeps_the_top_bits(int bits, int expected)
    {
        using var scope = NewDisposeScope();
        // 183 = 1011 0111b
        Assert.Equal(new float[] { expected, 0, 255 & ~((1 << (8 - bits)) - 1) },
            Values(PixelOperations.Posterize(Image(1, 1, 3, 183, 0, 255), One(bits))));
    }

    [Fact]
    public void Posterize_and_solarize_levels_map_to_their_parameters()
    {
        Assert.Equal(new[] { 8, 7, 6, 5, 4 }, new[] { 0.0, 2.5, 5, 7.4, 10 }.Select(AugmentationMagnitudes.PosterizeBits));
        Assert.Equal(256, AugmentationMagnitudes.SolarizeThreshold(0));
        Assert.Equal(0, AugmentationMagnitudes.SolarizeThreshold(10));
        Assert.Equal(0.3, AugmentationMagnitudes.Shear(10), 12);
        Assert.Equal(0.45 * 28, AugmentationMagnitudes.TranslatePixels(10, 28), 12);
        Assert.Equal(30, AugmentationMagnitudes.RotateDegrees(10), 12);
        Assert.Equal(0.1, AugmentationMagnitudes.EnhanceFactor(0), 12);
        Assert.Equal(1.9, AugmentationMagnitudes.EnhanceFactor(10), 12);
    }

    [Fact]
    public void Solarize_inverts_at_and_above_the_threshold()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(new float[] { 127, 127, 55, 0 }, Values(PixelOperations.Solarize(Image(1, 1, 4, 127, 128, 200, 0), One(128))));
    }

    [Theory]
    [InlineData(0.1, 10, 131, 121, 116)]
    [InlineData(1.0, 101, 200, 100, 50)]
    [InlineData(1.9, 191, 255, 78, 0)]
    public void Brightness_and_color_blend_as_pil(double factor, float brightness101, float r, float g, float b)
    {
        using var scope = NewDisposeScope();
        // Brightness of 101: trunc(f x 101). Color of (200, 100, 50) with L = 124: trunc(clamp(124 + f (v - 124))).
        Assert.Equal(new[] { brightness101 }, Values(PixelOperations.Brightness(Image(1, 1, 1, 101), One(factor))));
        Assert.Equal(new[] { r, g, b }, Values(PixelOperations.Color(Image(3, 1, 1, 200, 100, 50), One(factor))));
    }

    [Theory]
    [InlineData(0.1, 145, 155, 58)]
    [InlineData(1.0, 100, 200, 130)]
    [InlineData(1.9, 55, 245, 202)]
    public void Contrast_and_sharpness_blend_as_pil(double factor, float low, float high, float centre)
    {
        using var scope = NewDisposeScope();
        // Contrast of [100, 200]: mean 150. Sharpness of a 3x3 image with 130 in the centre: smoothed centre
        // round(5 x 130 / 13) = 50, border pixels keep their values (so they do not change).
        Assert.Equal(new[] { low, high }, Values(PixelOperations.Contrast(Image(1, 1, 2, 100, 200), One(factor))));
        var sharpened = Values(PixelOperations.Sharpness(Image(1, 3, 3, 0, 0, 0, 0, 130, 0, 0, 0, 0), One(factor)));
        Assert.Equal(centre, sharpened[4]);
        Assert.All(sharpened.Where((_, i) => i != 4), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Color_is_the_identity_on_one_channel_images()
    {
        using var scope = NewDisposeScope();
        var image = Image(1, 1, 3, 10, 100, 250);
        Assert.True(Same(PixelOperations.Color(image, One(1.9)), image));
    }
}
