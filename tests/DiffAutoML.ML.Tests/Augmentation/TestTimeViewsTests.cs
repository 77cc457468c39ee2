using DiffAutoML.ML.Augmentation;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Augmentation;

public class TestTimeViewsTests
{
    private const float F = 7; // the fill value, unlike any pixel

    [Fact]
    public void The_ten_views_of_a_3x3_image_are_its_shifts_then_their_mirror_images()
    {
        using var scope = NewDisposeScope();
        var image = arange(1f, 10f).view(1, 1, 3, 3); // rows 1 2 3 / 4 5 6 / 7 8 9
        var views = new TestTimeViews(Flip: true, Shift: true, FillValue: F);
        var stacked = views.Stack(image);
        Assert.Equal(new long[] { 10, 1, 3, 3 }, stacked.shape);
        // Output pixel (x, y) shows input pixel (x + dx, y + dy): the order (0,0), (1,0), (-1,0), (0,1), (0,-1).
        float[][] shifts =
        {
            new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 },
            new float[] { 2, 3, F, 5, 6, F, 8, 9, F },
            new float[] { F, 1, 2, F, 4, 5, F, 7, 8 },
            new float[] { 4, 5, 6, 7, 8, 9, F, F, F },
            new float[] { F, F, F, 1, 2, 3, 4, 5, 6 },
        };
        static float[] Mirror(float[] v) => new[] { v[2], v[1], v[0], v[5], v[4], v[3], v[8], v[7], v[6] };
        var expected = shifts.Concat(shifts.Select(Mirror)).SelectMany(v => v).ToArray();
        Assert.Equal(expected, stacked.data<float>().ToArray());
    }

    [Theory]
    [InlineData(false, false, 1)]
    [InlineData(true, false, 2)]
    [InlineData(false, true, 5)]
    [InlineData(true, true, 10)]
    public void The_options_give_the_views_and_a_batch_of_that_many_images(bool flip, bool shift, int count)
    {
        using var scope = NewDisposeScope();
        var views = TestTimeViews.From(new AugmentationOptions { RandomFlip = true, RandomCropPadding = 2, TestTimeFlip = flip, TestTimeShift = shift, FillValue = 3 });
        Assert.Equal(new TestTimeViews(flip, shift, 3), views);
        Assert.Equal(count, views.Count);
        var images = rand(4, 2, 5, 6) * 255;
        var stacked = views.Stack(images);
        Assert.Equal(new long[] { 4 * count, 2, 5, 6 }, stacked.shape);
        // View 0 is the batch itself.
        Assert.True(stacked.narrow(0, 0, 4).eq(images).all().item<bool>());
    }

    [Fact]
    public void Test_time_shift_needs_the_crop_augmentation()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationOptions { TestTimeShift = true }.Validate());
        Assert.Equal(nameof(AugmentationOptions.TestTimeShift), e.ParamName);
        Assert.Contains("RandomCropPadding", e.Message);
        new AugmentationOptions { TestTimeShift = true, RandomCropPadding = 1 }.Validate();
    }
}
