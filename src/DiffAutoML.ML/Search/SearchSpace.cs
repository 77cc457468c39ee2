namespace DiffAutoML.ML.Search;

/// <summary>
/// A validated search space: the stem, the choice layers with their input sizes, the tail and the classifier, and the
/// exact multiply-add and parameter counts of every candidate and every child.
/// </summary>
public sealed class SearchSpace
{
    /// <summary>Builds and validates a space; throws <see cref="ArgumentOutOfRangeException"/> naming the bad option.</summary>
    public SearchSpace(SearchSpaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Resolve();
        var o = Options;
        if (o.InputChannels is not (1 or 3)) throw Bad(nameof(o.InputChannels), o.InputChannels, "must be 1 or 3");
        if (o.Classes < 2) throw Bad(nameof(o.Classes), o.Classes, "must be at least 2");
        if (o.StemStride is not (1 or 2)) throw Bad(nameof(o.StemStride), o.StemStride, "must be 1 or 2");
        if (o.StemChannels <= 0 || o.StemChannels % 4 != 0) throw Bad(nameof(o.StemChannels), o.StemChannels, "must be a positive multiple of 4");
        if (o.TailChannels <= 0) throw Bad(nameof(o.TailChannels), o.TailChannels, "must be positive");
        if (!(o.Dropout >= 0 && o.Dropout < 1)) throw Bad(nameof(o.Dropout), o.Dropout, "must be in [0, 1)");
        if (!(o.BatchNormEpsilon > 0)) throw Bad(nameof(o.BatchNormEpsilon), o.BatchNormEpsilon, "must be positive");
        var repeats = o.StageRepeats!;
        var channels = o.StageChannels!;
        if (repeats.Count == 0 || repeats.Count != channels.Count)
            throw Bad(nameof(o.StageRepeats), repeats.Count, $"needs one entry per stage, like StageChannels ({channels.Count})");
        if (repeats.Any(r => r < 1)) throw Bad(nameof(o.StageRepeats), string.Join(",", repeats), "each stage needs at least one layer");
        int previous = o.StemChannels!.Value;
        foreach (var c in channels)
        {
            if (c % 4 != 0) throw Bad(nameof(o.StageChannels), string.Join(",", channels), $"{c} is not divisible by 4");
            if (c <= previous) throw Bad(nameof(o.StageChannels), string.Join(",", channels), $"each stage must be wider than the one before ({c} after {previous})");
            previous = c;
        }
        var strides = o.StageStrides!;
        if (strides.Count != repeats.Count)
            throw Bad(nameof(o.StageStrides), string.Join(",", strides), $"needs one entry per stage, like StageRepeats ({repeats.Count})");
        if (strides.Any(s => s is not (1 or 2))) throw Bad(nameof(o.StageStrides), string.Join(",", strides), "must each be 1 or 2");
        int halvings = strides.Count(s => s == 2);
        int minSide = 1 << (halvings + (o.StemStride!.Value - 1));
        if (o.Height < minSide || o.Width < minSide || o.Height > 4096 || o.Width > 4096)
            throw Bad(nameof(o.Height), $"{o.Height}x{o.Width}", $"must be between {minSide} and 4096 pixels for {halvings} stride-2 stages" +
                (o.Height < minSide || o.Width < minSide ? FewerHalvings(Math.Min(o.Height!.Value, o.Width!.Value), o.StemStride.Value, strides.Count) : ""));

        Stem = new ConvSpec(o.InputChannels, o.StemChannels.Value, 3, o.StemStride.Value, false, true);
        int h = Stem.OutputSize(o.Height!.Value), w = Stem.OutputSize(o.Width!.Value), inChannels = Stem.OutChannels;
        var layers = new List<LayerSpec>();
        for (int s = 0; s < repeats.Count; s++)
            for (int r = 0; r < repeats[s]; r++)
            {
                int stride = r == 0 ? strides[s] : 1;
                layers.Add(new LayerSpec(layers.Count, inChannels, channels[s], stride, h, w, o.SharedProjections && r == 0));
                inChannels = channels[s];
                if (stride == 2) { h = (h + 1) / 2; w = (w + 1) / 2; }
            }
        Layers = layers;
        Tail = new ConvSpec(inChannels, o.TailChannels!.Value, 1, 1, false, true);
        FinalHeight = h;
        FinalWidth = w;
    }

    /// <summary>The remedy for images too small for the stages: the strides that keep one pixel at the end, or a larger size.</summary>
    private static string FewerHalvings(int side, int stemStride, int stages)
    {
        int possible = Math.Clamp((int)Math.Floor(Math.Log2(side)) - (stemStride - 1), 0, stages);
        var strides = string.Join(",", Enumerable.Range(0, stages).Select(s => s < stages - possible ? 1 : 2));
        return $"; for {side}-pixel images set StageStrides to {strides} (CLI --stage-strides {strides}), or give images a larger size (Data.Height and Data.Width; a pixel vector cannot be resized)";
    }

    private static ArgumentOutOfRangeException Bad(string option, object? value, string problem)
        => new(option, value, $"Search space option {option} = {value} {problem}.");

    /// <summary>The resolved options.</summary>
    public SearchSpaceOptions Options { get; }

    /// <summary>The stem convolution.</summary>
    public ConvSpec Stem { get; }

    /// <summary>The choice layers.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>The 1x1 convolution before pooling.</summary>
    public ConvSpec Tail { get; }

    /// <summary>Feature-map size at the tail.</summary>
    public int FinalHeight { get; }

    /// <summary>Feature-map size at the tail.</summary>
    public int FinalWidth { get; }

    /// <summary>Number of classes.</summary>
    public int Classes => Options.Classes;

    /// <summary>Multiply-adds of candidate <paramref name="choice"/> in layer <paramref name="layer"/>.</summary>
    public long BlockMultiplyAdds(int layer, BlockChoice choice)
        => Layers[layer].Plan(choice).MultiplyAdds(Layers[layer].InputHeight, Layers[layer].InputWidth);

    /// <summary>Parameters of candidate <paramref name="choice"/> in layer <paramref name="layer"/>.</summary>
    public long BlockParameters(int layer, BlockChoice choice) => Layers[layer].Plan(choice).Parameters;

    /// <summary>Multiply-adds outside the choice layers: stem, tail and classifier.</summary>
    public long FixedMultiplyAdds => Stem.MultiplyAdds(Options.Height!.Value, Options.Width!.Value)
        + Tail.MultiplyAdds(FinalHeight, FinalWidth) + (long)Tail.OutChannels * Classes;

    /// <summary>Parameters outside the choice layers (the classifier has a bias).</summary>
    public long FixedParameters => Stem.Parameters + Tail.Parameters + (long)Tail.OutChannels * Classes + Classes;

    /// <summary>Activation values of one image in the largest child: stem, the candidate with the most outputs in each
    /// layer, tail. What training keeps per image for the backward pass is a multiple of this (StepMemoryCheck).</summary>
    public long LargestChildActivations
    {
        get
        {
            long total = Stem.OutputElements(Options.Height!.Value, Options.Width!.Value) + Tail.OutputElements(FinalHeight, FinalWidth);
            foreach (var layer in Layers)
                total += Enum.GetValues<BlockChoice>().Max(choice => layer.Plan(choice).OutputElements(layer.InputHeight, layer.InputWidth));
            return total;
        }
    }

    /// <summary>Multiply-adds of a whole child network.</summary>
    public long ChildMultiplyAdds(IReadOnlyList<int> path) => FixedMultiplyAdds + Sum(path, (l, c) => BlockMultiplyAdds(l, c));

    /// <summary>Parameters of a whole child network.</summary>
    public long ChildParameters(IReadOnlyList<int> path) => FixedParameters + Sum(path, (l, c) => BlockParameters(l, c));

    private long Sum(IReadOnlyList<int> path, Func<int, BlockChoice, long> cost)
    {
        if (path.Count != Layers.Count) throw new ArgumentException($"The path has {path.Count} choices; the space has {Layers.Count} layers.", nameof(path));
        long total = 0;
        for (int l = 0; l < path.Count; l++) total += cost(l, (BlockChoice)path[l]);
        return total;
    }
}
