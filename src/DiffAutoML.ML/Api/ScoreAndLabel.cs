namespace DiffAutoML.ML.Api;

/// <summary>The columns the model adds, typed by the label (used to describe the output schema before Fit).</summary>
internal sealed class ScoreAndLabel<TLabel>
{
    public float[] Score { get; set; } = Array.Empty<float>();

    public TLabel PredictedLabel { get; set; } = default!;
}

/// <summary>No input columns.</summary>
internal sealed class NoColumns
{
}
