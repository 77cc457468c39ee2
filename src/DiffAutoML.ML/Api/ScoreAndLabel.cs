namespace DiffAutoML.ML.Api;

/// <summary>The columns the model adds, typed by the label (used to describe the output schema before Fit).</summary>
internal sealed class ScoreAndLabel<TLabel>
{
    // Only holds Score's place before PredictedLabel: GetOutputSchema replaces its description (variable size, no slot
    // names) with the concatenation of ScoreSlots.
    public float[] Score { get; set; } = Array.Empty<float>();

    public TLabel PredictedLabel { get; set; } = default!;
}

/// <summary>Two scalar columns whose concatenation describes Score before Fit (<see cref="DiffAutoMLEstimator.GetOutputSchema"/>).</summary>
internal sealed class ScoreSlots
{
    public const string First = "<DiffAutoML score slot 1>", Second = "<DiffAutoML score slot 2>";

    [Microsoft.ML.Data.ColumnName(First)]
    public float Slot1 { get; set; }

    [Microsoft.ML.Data.ColumnName(Second)]
    public float Slot2 { get; set; }
}

/// <summary>No input columns.</summary>
internal sealed class NoColumns
{
}
