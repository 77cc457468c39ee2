namespace DiffAutoML.ML.Search;

/// <summary>The four candidate blocks of a choice layer (DSNAS / single-path one-shot ShuffleNetV2 space).</summary>
public enum BlockChoice
{
    /// <summary>ShuffleNetV2 block, depthwise kernel 3.</summary>
    Shuffle3,
    /// <summary>ShuffleNetV2 block, depthwise kernel 5.</summary>
    Shuffle5,
    /// <summary>ShuffleNetV2 block, depthwise kernel 7.</summary>
    Shuffle7,
    /// <summary>Xception-like block: three 3x3 depthwise convolutions.</summary>
    Xception,
}

/// <summary>Names of the block choices.</summary>
public static class BlockChoices
{
    /// <summary>Number of choices per layer.</summary>
    public const int Count = 4;

    /// <summary>Short name for progress lines: k3, k5, k7, xc.</summary>
    public static string ShortName(this BlockChoice choice) => choice switch
    {
        BlockChoice.Shuffle3 => "k3",
        BlockChoice.Shuffle5 => "k5",
        BlockChoice.Shuffle7 => "k7",
        _ => "xc",
    };

    /// <summary>Architecture as a short string, for example "k3 k5 xc k7".</summary>
    public static string Describe(IEnumerable<int> path) => string.Join(" ", path.Select(c => ((BlockChoice)c).ShortName()));

    /// <summary>Parses <see cref="Describe"/>'s output back into a path (commas may separate the names too).</summary>
    public static int[] Parse(string architecture) => architecture.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)
        .Select(s => s switch
        {
            "k3" => 0, "k5" => 1, "k7" => 2, "xc" => 3,
            _ => throw new FormatException($"'{s}' is not a block name (k3, k5, k7, xc)."),
        }).ToArray();
}
