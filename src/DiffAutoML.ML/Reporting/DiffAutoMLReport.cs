using System.Text.Json;
using System.Text.Json.Serialization;
using DiffAutoML.ML.HyperParameters;

namespace DiffAutoML.ML.Reporting;

/// <summary>What a search found and how it went; serializes to JSON.</summary>
public sealed record DiffAutoMLReport
{
    /// <summary>The chosen block of each layer ("k3 k5 xc ...").</summary>
    public string Architecture { get; init; } = "";

    /// <summary>Millions of multiply-adds per image.</summary>
    public double MFlops { get; init; }

    /// <summary>The child's measured training cost relative to the cheapest child of the candidate blocks
    /// (<see cref="Search.BlockCostTable"/>; all four blocks unless <see cref="Search.ArchitectureSearchOptions.Candidates"/>
    /// leaves some out); null unless <see cref="Search.ArchitectureSearchOptions.MaxRelativeCost"/> was set.</summary>
    public double? RelativeCost { get; init; }

    /// <summary>Trainable parameters.</summary>
    public long Parameters { get; init; }

    /// <summary>Class names in Score order.</summary>
    public IReadOnlyList<string> Classes { get; init; } = Array.Empty<string>();

    /// <summary>Names of the augmentation sub-policies ("Rotate+Color"), in tau's order.</summary>
    public IReadOnlyList<string> SubPolicies { get; init; } = Array.Empty<string>();

    /// <summary>Input the network takes: channels x height x width.</summary>
    public string InputShape { get; init; } = "";

    /// <summary>Components that ran ("Augmentation, Architecture, HyperParameters").</summary>
    public string Components { get; init; } = "";

    /// <summary>Device the search ran on.</summary>
    public string Device { get; init; } = "";

    /// <summary>Training and validation images.</summary>
    public int TrainImages { get; init; }

    /// <summary>Validation images.</summary>
    public int ValidationImages { get; init; }

    /// <summary>Rows skipped as bad.</summary>
    public int SkippedRows { get; init; }

    /// <summary>Epochs planned.</summary>
    public int EpochsPlanned { get; init; }

    /// <summary>Epochs completed.</summary>
    public int EpochsCompleted { get; init; }

    /// <summary>Epoch at which the architecture was fixed (0 without search).</summary>
    public int SearchEpochs { get; init; }

    /// <summary>Why training stopped: "completed", "time budget".</summary>
    public string StoppedBy { get; init; } = "";

    /// <summary>Epoch whose weights were returned.</summary>
    public int ReturnedEpoch { get; init; }

    /// <summary>Validation accuracy of the returned model.</summary>
    public double ValidationAccuracy { get; init; }

    /// <summary>Validation loss of the returned model.</summary>
    public double ValidationLoss { get; init; }

    /// <summary>Validation accuracy of the returned model as it scores with test-time views (each image's outputs
    /// averaged over its mirror image and/or its one-pixel shifts; <see cref="Augmentation.TestTimeViews"/>,
    /// <see cref="Augmentation.AugmentationOptions.TestTimeFlip"/>, <see cref="Augmentation.AugmentationOptions.TestTimeShift"/>);
    /// null when both are off. <see cref="ValidationAccuracy"/> scores each image as it is.</summary>
    public double? TestTimeViewsValidationAccuracy { get; init; }

    /// <summary>Seconds in the search stage.</summary>
    public double SearchSeconds { get; init; }

    /// <summary>Seconds in the tuning stage.</summary>
    public double TuningSeconds { get; init; }

    /// <summary>Seconds of the whole Fit (loading data and export included).</summary>
    public double TotalSeconds { get; init; }

    /// <summary>Whether the run continued from a checkpoint.</summary>
    public bool Resumed { get; init; }

    /// <summary>The state at each epoch's end.</summary>
    public IReadOnlyList<EpochRecord> History { get; init; } = Array.Empty<EpochRecord>();

    /// <summary>Weight decay and learning rate over time (at most 500 points).</summary>
    public IReadOnlyList<HyperparameterRecord> HyperParameters { get; init; } = Array.Empty<HyperparameterRecord>();

    /// <summary>The options used, as name = value.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static DiffAutoMLReport FromJson(string json) => JsonSerializer.Deserialize<DiffAutoMLReport>(json, Json)
        ?? throw new InvalidDataException("The report JSON is empty.");
}
