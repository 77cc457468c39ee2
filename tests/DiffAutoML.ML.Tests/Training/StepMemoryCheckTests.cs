using DiffAutoML.ML.Search;
using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.Training;

public class StepMemoryCheckTests
{
    [Fact]
    public void Block_outputs_count_every_convolution_and_the_concatenated_output()
    {
        // Stride 1, 16 channels at 8x8: three convolutions of 8 channels (the odd half) and the 16-channel output.
        var stride1 = BlockPlan.Create(BlockChoice.Shuffle3, 16, 16, 1);
        Assert.Equal(3 * 8 * 64 + 16 * 64, stride1.OutputElements(8, 8));
        // Stride 2, 16 -> 32 channels at 8x8: main 1x1 at 8x8 (16 x 64), depthwise to 4x4 and 1x1 (16 x 16 each);
        // projection depthwise and 1x1 at 4x4 (16 x 16 each); output 32 x 16.
        var stride2 = BlockPlan.Create(BlockChoice.Shuffle3, 16, 32, 2);
        Assert.Equal(16 * 64 + 4 * 16 * 16 + 32 * 16, stride2.OutputElements(8, 8));
        // Xception: six convolutions in the main branch.
        var xception = BlockPlan.Create(BlockChoice.Xception, 16, 16, 1);
        Assert.Equal(6 * 8 * 64 + 16 * 64, xception.OutputElements(8, 8));
    }

    [Fact]
    public void The_largest_child_takes_the_candidate_with_the_most_outputs_in_each_layer()
    {
        var space = new SearchSpace(new SearchSpaceOptions { Height = 32, Width = 32 });
        long expected = space.Stem.OutputElements(32, 32) + space.Tail.OutputElements(space.FinalHeight, space.FinalWidth)
            + space.Layers.Sum(l => l.Plan(BlockChoice.Xception).OutputElements(l.InputHeight, l.InputWidth));
        Assert.Equal(expected, space.LargestChildActivations);
        // Four times the pixels, about four times the activations.
        var larger = new SearchSpace(new SearchSpaceOptions { Height = 64, Width = 64 });
        Assert.InRange(larger.LargestChildActivations / (double)space.LargestChildActivations, 3.5, 4.0);
    }

    [Fact]
    public void A_step_that_cannot_fit_is_refused_with_its_size_batch_and_remedies()
    {
        var large = new SearchSpace(new SearchSpaceOptions { Height = 1200, Width = 1200 });
        var e = Assert.Throws<InvalidOperationException>(() => StepMemoryCheck.ThrowIfTooLarge(large, 22, 16L << 30));
        Assert.Contains("3x1200x1200 images at batch size 22", e.Message);
        Assert.Contains("16.0 GiB", e.Message);
        Assert.Contains("Data.Height", e.Message);
        Assert.Contains("BatchSize", e.Message);
        Assert.InRange(StepMemoryCheck.StepBytes(large, 22) - 22 * StepMemoryCheck.StepBytes(large, 1), 0, 22);

        // Fashion-MNIST at batch 128 needs well under a gigabyte.
        var small = new SearchSpace(new SearchSpaceOptions { InputChannels = 1, Height = 28, Width = 28 });
        StepMemoryCheck.ThrowIfTooLarge(small, 128, 1L << 30);
        Assert.InRange(StepMemoryCheck.StepBytes(small, 128), 10L << 20, 1L << 30);
    }
}
