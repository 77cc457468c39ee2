namespace DiffAutoML.ML.Search;

/// <summary>The shape of the searched network. Unset values come from <see cref="Preset"/>.</summary>
public sealed record class SearchSpaceOptions
{
    /// <summary>The preset that unset values come from.</summary>
    public SearchSpacePreset Preset { get; set; } = SearchSpacePreset.Compact;

    /// <summary>Input channels (1 or 3). Default 3.</summary>
    public int InputChannels { get; set; } = 3;

    /// <summary>Input height; null = the preset's (224 for Paper, 32 otherwise).</summary>
    public int? Height { get; set; }

    /// <summary>Input width; null = the preset's.</summary>
    public int? Width { get; set; }

    /// <summary>Number of classes. Default 10.</summary>
    public int Classes { get; set; } = 10;

    /// <summary>Stem output channels.</summary>
    public int? StemChannels { get; set; }

    /// <summary>Stem stride (1 or 2).</summary>
    public int? StemStride { get; set; }

    /// <summary>Choice layers per stage; the first layer of each stage widens the channels (and has the stage's
    /// stride, <see cref="StageStrides"/>).</summary>
    public IReadOnlyList<int>? StageRepeats { get; set; }

    /// <summary>
    /// Stride of the first layer of each stage, 1 or 2; null = 2 for every stage (ShuffleNetV2). With stride 1 a stage
    /// keeps the resolution it receives: the Compact preset's four stride-2 stages leave a 28x28 image at 2x2, and
    /// strides 1,2,2,2 leave it at 4x4, the feature-map sizes of a 56x56 input, for 3.4x the multiply-adds
    /// (docs/benchmarks.md, "Keeping the resolution inside the network").
    /// </summary>
    public IReadOnlyList<int>? StageStrides { get; set; }

    /// <summary>Output channels per stage (divisible by 4, increasing).</summary>
    public IReadOnlyList<int>? StageChannels { get; set; }

    /// <summary>Channels of the 1x1 convolution before pooling.</summary>
    public int? TailChannels { get; set; }

    /// <summary>Dropout before the classifier.</summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>Batch-norm epsilon.</summary>
    public double BatchNormEpsilon { get; set; } = 1e-5;

    /// <summary>
    /// The candidates of a widening layer (the first of each stage, stride 2 by default) share one projection branch
    /// (depthwise 3x3 with the layer's stride, BN, 1x1, BN, ReLU) in the supernet, so half of the channels after every
    /// such layer are the same whichever block is sampled. Default true. False is the DSNAS design (a kxk projection per
    /// candidate): there every channel after a widening layer depends on the sampled block, and the supernet barely
    /// trains for its first hundreds of steps (docs/algorithm.md, "Shared projections").
    /// </summary>
    public bool SharedProjections { get; set; } = true;

    /// <summary>
    /// The three ShuffleNet candidates of a layer (depthwise kernel 3, 5, 7) share one set of weights in the supernet:
    /// the 5x5 and 3x3 kernels are the centre of the 7x7 one, and the 1x1 convolutions and batch norms are common (the
    /// "superkernel" of Single-Path NAS). Every step that samples any of the three then trains the weights the chosen
    /// child inherits, where separate candidates each get about a quarter of the steps. The Xception candidate keeps its
    /// own weights. Default false (DSNAS: separate candidates); docs/algorithm.md, "Shared kernels", gives the measurements.
    /// </summary>
    public bool SharedKernels { get; set; }

    /// <summary>
    /// These options with every channel count (stem, stages, tail) multiplied by <paramref name="multiplier"/> and
    /// rounded to a multiple of 4 (at least 4): the width multiplier of MobileNet and ShuffleNet. Wider networks cost
    /// about multiplier squared more multiply-adds; on a GPU, small images leave room for that.
    /// </summary>
    public SearchSpaceOptions Widened(double multiplier)
    {
        if (!(multiplier > 0 && multiplier <= 16))
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The width multiplier must be greater than 0 and at most 16.");
        var resolved = Resolve();
        int Scale(int channels) => Math.Max(4, (int)Math.Round(channels * multiplier / 4) * 4);
        return this with
        {
            StemChannels = Scale(resolved.StemChannels!.Value),
            StageChannels = resolved.StageChannels!.Select(Scale).ToArray(),
            TailChannels = Scale(resolved.TailChannels!.Value),
        };
    }

    /// <summary>
    /// The longest image side the estimator trains at when the size is left automatic
    /// (<see cref="Data.ImageDataOptions.AutomaticMaxSide"/>): 224 for Paper (its ImageNet input), 64 for Compact and
    /// Tiny, the top of the small-image range they are built for. Their stem keeps the resolution (stride 1), so at
    /// 224x166 one Compact training step of 128 photos was planned at 76 s on two CPU cores (docs/benchmarks.md,
    /// "Photos at the automatic size").
    /// </summary>
    public int AutomaticInputSide => Preset == SearchSpacePreset.Paper ? 224 : 64;

    /// <summary>Options with every value filled in from the preset.</summary>
    public SearchSpaceOptions Resolve()
    {
        var (h, stem, stride, repeats, channels, tail) = Preset switch
        {
            SearchSpacePreset.Paper => (224, 16, 2, new[] { 4, 4, 8, 4 }, new[] { 64, 160, 320, 640 }, 1024),
            SearchSpacePreset.Compact => (32, 16, 1, new[] { 2, 2, 4, 2 }, new[] { 32, 64, 128, 256 }, 512),
            _ => (32, 8, 1, new[] { 1, 1 }, new[] { 16, 32 }, 64),
        };
        return this with
        {
            Height = Height ?? h, Width = Width ?? Height ?? h, StemChannels = StemChannels ?? stem, StemStride = StemStride ?? stride,
            StageRepeats = StageRepeats ?? repeats, StageChannels = StageChannels ?? channels, TailChannels = TailChannels ?? tail,
            StageStrides = StageStrides ?? Enumerable.Repeat(2, (StageRepeats ?? repeats).Count).ToArray(),
        };
    }
}
