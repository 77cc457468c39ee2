using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;

namespace DiffAutoML.ML.Tests.Search;

public class SearchSpaceTests
{
    public SearchSpaceTests() => TorchRuntime.EnsureCpu();

    [Theory]
    [InlineData(8, "1,2,2,2")]
    [InlineData(5, "1,1,2,2")]
    [InlineData(1, "1,1,1,1")]
    public void Images_too_small_for_the_stages_are_refused_with_the_strides_that_fit_them(int side, string strides)
    {
        var options = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = side, Width = side + 3, Classes = 2 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpace(options));
        Assert.Contains($"between 16 and 4096 pixels for 4 stride-2 stages; for {side}-pixel images set StageStrides to {strides}", error.Message);
        // The strides it names build a space whose last stage still has a pixel.
        var space = new SearchSpace(options with { StageStrides = strides.Split(',').Select(int.Parse).ToArray() });
        Assert.True(space.Layers[^1].InputHeight >= 1);
    }

    [Fact]
    public void Shuffle_block_stride_1_matches_a_hand_count()
    {
        // 16 channels at 8x8: 8 pass through; main 1x1 8->8, dw3 8, 1x1 8->8 over 64 pixels.
        var plan = BlockPlan.Create(BlockChoice.Shuffle3, 16, 16, 1);
        Assert.Equal(8 * 8 * 64 + 8 * 9 * 64 + 8 * 8 * 64, plan.MultiplyAdds(8, 8));
        Assert.Equal((64 + 16) + (72 + 16) + (64 + 16), plan.Parameters);
    }

    [Fact]
    public void Shuffle_block_stride_2_matches_a_hand_count()
    {
        // 8 -> 16 channels, 8x8 -> 4x4. main: 1x1 8->8 at 8x8, dw5 stride 2, 1x1 8->8 at 4x4; projection: dw5 stride 2, 1x1 8->8.
        var plan = BlockPlan.Create(BlockChoice.Shuffle5, 8, 16, 2);
        Assert.Equal(4096 + 3200 + 1024 + 3200 + 1024, plan.MultiplyAdds(8, 8));
        Assert.Equal((64 + 16) + (200 + 16) + (64 + 16) + (200 + 16) + (64 + 16), plan.Parameters);
    }

    [Fact]
    public void Shuffle_block_widening_at_stride_1_matches_a_hand_count()
    {
        // The stride-2 block above at stride 1: every convolution at 8x8. main: 1x1 8->8, dw5 8, 1x1 8->8; projection: dw5 8, 1x1 8->8.
        var plan = BlockPlan.Create(BlockChoice.Shuffle5, 8, 16, 1);
        Assert.True(plan.Widens);
        Assert.Equal(4096 + 12800 + 4096 + 12800 + 4096, plan.MultiplyAdds(8, 8));
        Assert.Equal((64 + 16) + (200 + 16) + (64 + 16) + (200 + 16) + (64 + 16), plan.Parameters);
        Assert.All(plan.Main.Concat(plan.Projection), c => Assert.Equal(1, c.Stride));
        Assert.False(BlockPlan.Create(BlockChoice.Shuffle5, 16, 16, 1).Widens);
        // Halving the resolution without widening, narrowing, and strides other than 1 or 2 have no block.
        Assert.Throws<ArgumentException>(() => BlockPlan.Create(BlockChoice.Shuffle3, 16, 16, 2));
        Assert.Throws<ArgumentException>(() => BlockPlan.Create(BlockChoice.Shuffle3, 16, 8, 1));
        Assert.Throws<ArgumentException>(() => BlockPlan.Create(BlockChoice.Shuffle3, 8, 16, 3));
    }

    [Fact]
    public void A_stage_at_stride_1_keeps_the_resolution_it_receives()
    {
        var halving = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        var keeping = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28, StageStrides = new[] { 1, 2, 2, 2 } });
        Assert.Equal(new[] { 2, 2, 2, 2 }, halving.Options.StageStrides);
        Assert.Equal((2, 2), (halving.FinalHeight, halving.FinalWidth));
        Assert.Equal((4, 4), (keeping.FinalHeight, keeping.FinalWidth));
        // The first stage's widening layer runs at 28x28 with its projection shared; every later stage sees twice the
        // resolution of the default space, as a 56x56 input would.
        Assert.Equal((1, 16, 32, 28, true), (keeping.Layers[0].Stride, keeping.Layers[0].InChannels, keeping.Layers[0].OutChannels, keeping.Layers[0].InputHeight, keeping.Layers[0].SharedProjection));
        Assert.Equal(new[] { 28, 28, 28, 14, 14, 7, 7, 7, 7, 4 }, keeping.Layers.Select(l => l.InputHeight));
        var wide = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 56 });
        Assert.Equal(wide.Layers.Skip(1).Select(l => l.InputHeight), keeping.Layers.Skip(1).Select(l => l.InputHeight));
        var allK3 = new int[10];
        double ratio = (double)keeping.ChildMultiplyAdds(allK3) / halving.ChildMultiplyAdds(allK3);
        Assert.InRange(ratio, 3, 4);
        // Only stride-2 stages count towards the smallest input: three halvings need 8 pixels, not 16.
        Assert.Equal(1, new SearchSpace(keeping.Options with { Height = 8, Width = 8 }).FinalHeight);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpace(halving.Options with { Height = 8, Width = 8 }));
    }

    [Fact]
    public void A_shared_projection_has_a_3x3_depthwise_kernel_for_every_candidate()
    {
        // Same block as above with the projection shared: its dw5 (3200 multiply-adds, 200 weights) becomes a dw3 (1152, 72).
        var plan = new LayerSpec(0, 8, 16, 2, 8, 8, SharedProjection: true).Plan(BlockChoice.Shuffle5);
        Assert.Equal(4096 + 3200 + 1024 + 1152 + 1024, plan.MultiplyAdds(8, 8));
        Assert.Equal((64 + 16) + (200 + 16) + (64 + 16) + (72 + 16) + (64 + 16), plan.Parameters);
        // Stride-1 layers have no projection to share; the Compact space shares those of its stride-2 layers by default.
        Assert.Empty(new LayerSpec(0, 16, 16, 1, 8, 8, SharedProjection: true).Plan(BlockChoice.Shuffle7).Projection);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        Assert.Equal(space.Layers.Select(l => l.Stride == 2), space.Layers.Select(l => l.SharedProjection));
    }

    [Fact]
    public void Xception_block_matches_a_hand_count()
    {
        var plan = BlockPlan.Create(BlockChoice.Xception, 16, 16, 1);
        Assert.Equal(3 * (8 * 9 * 64 + 8 * 8 * 64), plan.MultiplyAdds(8, 8));
        Assert.Equal(3 * ((72 + 16) + (64 + 16)), plan.Parameters);
    }

    [Fact]
    public void Counted_parameters_equal_the_modules_parameters()
    {
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        var path = new[] { 0, 1, 2, 3, 3, 2, 1, 0, 1, 3 };
        using var child = new ChildNetwork(space, path);
        Assert.Equal(space.ChildParameters(path), child.parameters().Sum(p => p.numel()));
        foreach (var choice in Enum.GetValues<BlockChoice>())
        {
            using var block = new ChoiceBlock(space.Layers[2].Plan(choice), 1e-5);
            Assert.Equal(space.BlockParameters(2, choice), block.parameters().Sum(p => p.numel()));
        }
    }

    [Fact]
    public void Paper_preset_children_are_about_320_MFLOPs()
    {
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Paper, Classes = 1000 });
        Assert.Equal(20, space.Layers.Count);
        Assert.Equal((7, 7), (space.FinalHeight, space.FinalWidth));
        // Expected multiply-adds of a child drawn uniformly (exact, by linearity): the paper reports 318-324M.
        double mean = space.FixedMultiplyAdds + space.Layers.Sum(l => Enum.GetValues<BlockChoice>().Average(c => (double)space.BlockMultiplyAdds(l.Index, c)));
        Assert.InRange(mean / 1e6, 300, 330);
        var random = new Random(1);
        var inRange = Enumerable.Range(0, 200).Count(_ =>
            space.ChildMultiplyAdds(Enumerable.Range(0, 20).Select(_ => random.Next(4)).ToArray()) / 1e6 is >= 300 and <= 330);
        // The space spans 296M (all k3) to 359M (all Xception); most children land in the paper's range.
        Assert.True(inRange > 100, $"{inRange} of 200 random children in 300-330 MFLOPs");
        Assert.Equal(295.8, space.ChildMultiplyAdds(Enumerable.Repeat(0, 20).ToArray()) / 1e6, 0.1);
        Assert.Equal(358.8, space.ChildMultiplyAdds(Enumerable.Repeat(3, 20).ToArray()) / 1e6, 0.1);
    }

    [Theory]
    [InlineData("StageChannels")]
    [InlineData("StageRepeats")]
    [InlineData("Height")]
    [InlineData("InputChannels")]
    [InlineData("StageStrides")]
    [InlineData("StageStrides count")]
    public void Invalid_shapes_name_the_option(string option)
    {
        var options = option switch
        {
            "StageStrides" => new SearchSpaceOptions { StageStrides = new[] { 1, 2, 3, 2 } },
            "StageStrides count" => new SearchSpaceOptions { StageStrides = new[] { 1, 2, 2 } },
            "StageChannels" => new SearchSpaceOptions { StageChannels = new[] { 32, 66, 128, 256 } },
            "StageRepeats" => new SearchSpaceOptions { StageRepeats = new[] { 2, 2 } },
            "Height" => new SearchSpaceOptions { Height = 8 },
            _ => new SearchSpaceOptions { InputChannels = 2 },
        };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpace(options));
        Assert.Contains(option.Split(' ')[0], e.Message);
    }

    [Fact]
    public void Architecture_strings_round_trip()
    {
        Assert.Equal("k3 k5 k7 xc", BlockChoices.Describe(new[] { 0, 1, 2, 3 }));
        Assert.Equal(new[] { 3, 0 }, BlockChoices.Parse("xc k3"));
        Assert.Throws<FormatException>(() => BlockChoices.Parse("k9"));
    }

    [Fact]
    public void Widened_multiplies_every_channel_count_and_rounds_to_a_multiple_of_4()
    {
        var wide = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1 }.Widened(2);
        Assert.Equal(32, wide.StemChannels);
        Assert.Equal(new[] { 64, 128, 256, 512 }, wide.StageChannels);
        Assert.Equal(1024, wide.TailChannels);
        Assert.Null(wide.Height); // the image size still comes from the data or the preset
        var narrow = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact }.Widened(0.3);
        Assert.Equal(new[] { 8, 20, 40, 76 }, narrow.StageChannels); // 9.6, 19.2, 38.4, 76.8 -> nearest multiples of 4
        Assert.Equal(4, narrow.StemChannels); // 4.8 -> 4
        // The widened space builds, and its parameters grow about with the square of the multiplier.
        long Count(SearchSpaceOptions o) => new SearchSpace(o with { InputChannels = 1, Height = 28 }).Layers.Sum(l => l.Plan(BlockChoice.Shuffle3).Parameters);
        double ratio = Count(wide) / (double)Count(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact });
        Assert.InRange(ratio, 3.5, 4.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpaceOptions().Widened(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpaceOptions().Widened(double.NaN));
    }
}
