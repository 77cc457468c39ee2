namespace DiffAutoML.ML.Reporting;

/// <summary>Metrics on a test set, for the report (plain data: no ML.NET types).</summary>
public sealed record TestMetrics
{
    /// <summary>Micro-averaged accuracy.</summary>
    public double Accuracy { get; init; }

    /// <summary>Macro-averaged accuracy.</summary>
    public double MacroAccuracy { get; init; }

    /// <summary>Log-loss.</summary>
    public double LogLoss { get; init; }

    /// <summary>Confusion counts: row = true class, column = predicted class, in the report's class order.</summary>
    public IReadOnlyList<IReadOnlyList<double>> ConfusionCounts { get; init; } = Array.Empty<IReadOnlyList<double>>();
}
