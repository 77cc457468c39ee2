using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Augmentation;

/// <summary>The fixed crop, flip and Cutout against hand-computed pixels, and their random draws.</summary>
public class BaselineAugmentationTests
{
    public BaselineAugmentationTests() => TorchRuntime.EnsureCpu();

    private static readonly float[] Grid4 = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();

    private static Tensor Image(int height, int width, float[] values) => tensor(values, new long[] { 1, 1, height, width });

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    private static Tensor Longs(params long[] values) => tensor(values);

    [Fact]
    public void Flip_mirrors_each_row_exactly()
    {
        using var scope = NewDisposeScope();
        var flipped = BaselineAugmentation.ShiftAndFlip(Image(4, 4, Grid4), tensor(new[] { true }), Longs(0), Longs(0), fill: 99);
        Assert.Equal(new float[] { 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12 }, Values(flipped));
        var odd = BaselineAugmentation.ShiftAndFlip(Image(2, 3, new float[] { 0, 1, 2, 3, 4, 5 }), tensor(new[] { true }), Longs(0), Longs(0), 99);
        Assert.Equal(new float[] { 2, 1, 0, 5, 4, 3 }, Values(odd));
    }

    [Fact]
    public void A_crop_of_the_padded_image_is_a_whole_pixel_shift_with_the_fill_moving_in()
    {
        using var scope = NewDisposeScope();
        // Crop at offset (p + 1, p - 2) of the image padded by p: out(x, y) = in(x + 1, y - 2).
        var shifted = BaselineAugmentation.ShiftAndFlip(Image(4, 4, Grid4), tensor(new[] { false }), Longs(1), Longs(-2), fill: 99);
        Assert.Equal(new float[] { 99, 99, 99, 99, 99, 99, 99, 99, 1, 2, 3, 99, 5, 6, 7, 99 }, Values(shifted));
        // Flipped, then shifted: out(x, y) = flip(in)(x - 1, y) = in(W - 1 - (x - 1), y).
        var both = BaselineAugmentation.ShiftAndFlip(Image(4, 4, Grid4), tensor(new[] { true }), Longs(-1), Longs(0), fill: 99);
        Assert.Equal(new float[] { 99, 3, 2, 1, 99, 7, 6, 5, 99, 11, 10, 9, 99, 15, 14, 13 }, Values(both));
    }

    [Fact]
    public void Each_sample_gets_its_own_shift_and_flip()
    {
        using var scope = NewDisposeScope();
        var batch = cat(new[] { Image(4, 4, Grid4), Image(4, 4, Grid4) }, 0);
        var result = BaselineAugmentation.ShiftAndFlip(batch, tensor(new[] { false, true }), Longs(0, 0), Longs(1, 0), fill: 0);
        Assert.Equal(new float[] { 4, 5, 6, 7 }, Values(result[0])[..4]);
        Assert.Equal(new float[] { 3, 2, 1, 0 }, Values(result[1])[..4]);
    }

    [Fact]
    public void Cutout_blanks_the_square_around_the_centre_and_drops_what_falls_outside()
    {
        using var scope = NewDisposeScope();
        var image = Image(6, 6, Enumerable.Range(1, 36).Select(i => (float)i).ToArray());
        // Size 4 at row 1, column 4: rows [-1, 3) -> 0..2, columns [2, 6) -> 2..5.
        var cut = Values(BaselineAugmentation.Cutout(image, Longs(1), Longs(4), size: 4, fill: 0));
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++)
                Assert.Equal(y <= 2 && x >= 2 ? 0f : 1 + 6 * y + x, cut[6 * y + x]);
        // Odd size 3 at (3, 3): rows and columns [2, 5).
        var odd = Values(BaselineAugmentation.Cutout(image, Longs(3), Longs(3), size: 3, fill: 100));
        Assert.Equal(9, odd.Count(v => v == 100));
        Assert.Equal(100f, odd[6 * 2 + 2]);
        Assert.Equal(100f, odd[6 * 4 + 4]);
        Assert.Equal(1 + 6 * 1 + 2, odd[6 * 1 + 2]);
        Assert.Equal(1 + 6 * 5 + 4, odd[6 * 5 + 4]);
    }

    [Fact]
    public void Random_crops_cover_every_shift_from_minus_p_to_p_and_flip_about_half_the_images()
    {
        using var scope = NewDisposeScope();
        const int padding = 2, count = 4000;
        var baseline = new BaselineAugmentation(new AugmentationOptions { RandomCropPadding = padding, RandomFlip = true }, 9, 9);
        // One bright pixel at the centre: where it lands tells the shift, and the flip of a centred pixel does not move it.
        var images = zeros(count, 1, 9, 9);
        images[TensorIndex.Colon, 0, 4, 4] = tensor(255f);
        var result = baseline.CropAndFlip(images, new Generator(3));
        var position = result.view(count, 81).argmax(1).data<long>().ToArray();
        var shifts = position.Select(p => (Dx: 4 - p % 9, Dy: 4 - p / 9)).ToArray();
        Assert.Equal(Enumerable.Range(-padding, 2 * padding + 1), shifts.Select(s => (int)s.Dx).Distinct().Order());
        Assert.Equal(Enumerable.Range(-padding, 2 * padding + 1), shifts.Select(s => (int)s.Dy).Distinct().Order());
        Assert.All(shifts.GroupBy(s => s.Dx), g => Assert.InRange(g.Count(), count / 5 * 0.8, count / 5 * 1.2));

        // An asymmetric image shows the flips: an unshifted, unflipped copy keeps pixel (0, 0) = 1.
        var marked = zeros(count, 1, 9, 9);
        marked[TensorIndex.Colon, 0, TensorIndex.Colon, 0] = tensor(255f); // the left column
        var flippedOrNot = new BaselineAugmentation(new AugmentationOptions { RandomFlip = true }, 9, 9).CropAndFlip(marked, new Generator(4));
        long flipped = flippedOrNot[TensorIndex.Colon, 0, 0, 8].gt(0).sum().item<long>();
        long kept = flippedOrNot[TensorIndex.Colon, 0, 0, 0].gt(0).sum().item<long>();
        Assert.Equal(count, flipped + kept);
        Assert.InRange(flipped, count * 0.45, count * 0.55);
    }

    [Fact]
    public void The_same_seed_gives_the_same_images_and_all_off_draws_nothing()
    {
        using var scope = NewDisposeScope();
        var options = new AugmentationOptions { RandomCropPadding = 3, RandomFlip = true, CutoutSize = 4 };
        var images = rand(new long[] { 16, 3, 12, 12 }, generator: new Generator(1)).mul(255);
        Tensor Run(AugmentationOptions o, Generator g)
        {
            var baseline = new BaselineAugmentation(o, 12, 12);
            return baseline.Cutout(baseline.CropAndFlip(images, g), g);
        }
        Assert.True(Run(options, new Generator(9)).eq(Run(options, new Generator(9))).all().item<bool>());
        Assert.False(Run(options, new Generator(9)).eq(Run(options, new Generator(10))).all().item<bool>());

        // Off: the input itself, and the generator untouched (the policy's draws after it are those of a run without it).
        var generator = new Generator(9);
        Assert.True(ReferenceEquals(images, Run(new AugmentationOptions(), generator)));
        Assert.Equal(new Generator(9).get_state().data<byte>().ToArray(), generator.get_state().data<byte>().ToArray());
    }

    [Theory]
    [InlineData(-1, 0, "RandomCropPadding")]
    [InlineData(0, -2, "CutoutSize")]
    public void Negative_sizes_are_refused_by_name(int padding, int cutout, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationOptions { RandomCropPadding = padding, CutoutSize = cutout }.Validate());
        Assert.Equal(name, e.ParamName);
    }

    [Theory]
    [InlineData(8, 0, "RandomCropPadding")]
    [InlineData(0, 9, "CutoutSize")]
    public void Sizes_that_do_not_fit_the_images_are_refused_by_name(int padding, int cutout, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BaselineAugmentation(new AugmentationOptions { RandomCropPadding = padding, CutoutSize = cutout }, 8, 12));
        Assert.Equal(name, e.ParamName);
        Assert.Contains("8 pixels", e.Message);
    }
}
