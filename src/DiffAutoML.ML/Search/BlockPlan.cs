namespace DiffAutoML.ML.Search;

/// <summary>
/// The convolutions of one candidate block (ShuffleNetV2 / single-path one-shot design, ../shared/reference/algorithm.md):
/// a block that keeps its channels (stride 1): the input's even channels pass through, the odd channels go through
/// <see cref="Main"/>, and the two are concatenated; a block that widens (the first of a stage, stride 2 in ShuffleNetV2,
/// or 1 with <see cref="SearchSpaceOptions.StageStrides"/>): <see cref="Projection"/> and <see cref="Main"/> both see
/// the whole input.
/// </summary>
public sealed record BlockPlan(BlockChoice Choice, int InChannels, int OutChannels, int Stride, IReadOnlyList<ConvSpec> Main, IReadOnlyList<ConvSpec> Projection)
{
    /// <summary>The plan of a block; <paramref name="projectionKernel"/> overrides the depthwise kernel of the
    /// projection (a projection shared by the layer's candidates, see <see cref="SearchSpaceOptions.SharedProjections"/>).</summary>
    public static BlockPlan Create(BlockChoice choice, int inChannels, int outChannels, int stride, int? projectionKernel = null)
    {
        if (stride is not (1 or 2))
            throw new ArgumentException($"A block's stride must be 1 or 2 (got {stride}).");
        if (outChannels < inChannels || (stride == 2 && outChannels == inChannels))
            throw new ArgumentException($"A block keeps its channels (stride 1) or widens them ({inChannels} in, {outChannels} out, stride {stride}).");
        bool widens = outChannels > inChannels;
        int branchIn = widens ? inChannels : inChannels / 2;
        int outputs = outChannels - branchIn;
        int mid = outChannels / 2;
        var main = choice == BlockChoice.Xception
            ? new[]
            {
                new ConvSpec(branchIn, branchIn, 3, stride, true, false), new ConvSpec(branchIn, mid, 1, 1, false, true),
                new ConvSpec(mid, mid, 3, 1, true, false), new ConvSpec(mid, mid, 1, 1, false, true),
                new ConvSpec(mid, mid, 3, 1, true, false), new ConvSpec(mid, outputs, 1, 1, false, true),
            }
            : new[]
            {
                new ConvSpec(branchIn, mid, 1, 1, false, true),
                new ConvSpec(mid, mid, Kernel(choice), stride, true, false),
                new ConvSpec(mid, outputs, 1, 1, false, true),
            };
        var projection = widens
            ? new[] { new ConvSpec(inChannels, inChannels, projectionKernel ?? Kernel(choice), stride, true, false), new ConvSpec(inChannels, inChannels, 1, 1, false, true) }
            : Array.Empty<ConvSpec>();
        return new BlockPlan(choice, inChannels, outChannels, stride, main, projection);
    }

    /// <summary>Whether the block widens its channels (projection and main branch side by side) rather than splitting
    /// them (pass-through half and main branch).</summary>
    public bool Widens => OutChannels > InChannels;

    /// <summary>Depthwise kernel of a choice (the Xception block uses 3).</summary>
    public static int Kernel(BlockChoice choice) => choice switch
    {
        BlockChoice.Shuffle5 => 5,
        BlockChoice.Shuffle7 => 7,
        _ => 3,
    };

    /// <summary>Multiply-adds for an input of the given size.</summary>
    public long MultiplyAdds(int height, int width)
        => Sum(Main, height, width, (c, h, w) => c.MultiplyAdds(h, w)).Total + Sum(Projection, height, width, (c, h, w) => c.MultiplyAdds(h, w)).Total;

    /// <summary>Values a forward pass of one image produces: every convolution's output and the concatenated block
    /// output (the activations that training keeps for the backward pass, up to a factor).</summary>
    public long OutputElements(int height, int width)
    {
        var (main, outHeight, outWidth) = Sum(Main, height, width, (c, h, w) => c.OutputElements(h, w));
        return main + Sum(Projection, height, width, (c, h, w) => c.OutputElements(h, w)).Total + (long)OutChannels * outHeight * outWidth;
    }

    /// <summary>Parameters (convolution weights and batch-norm scale and shift).</summary>
    public long Parameters => Main.Concat(Projection).Sum(c => c.Parameters);

    /// <summary>A quantity summed over a sequence of convolutions, each at the size the previous one leaves; and that size.</summary>
    private static (long Total, int Height, int Width) Sum(IReadOnlyList<ConvSpec> convs, int height, int width, Func<ConvSpec, int, int, long> quantity)
    {
        long total = 0;
        foreach (var conv in convs)
        {
            total += quantity(conv, height, width);
            height = conv.OutputSize(height);
            width = conv.OutputSize(width);
        }
        return (total, height, width);
    }
}
