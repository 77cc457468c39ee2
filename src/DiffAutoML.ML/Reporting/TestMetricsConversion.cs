using Microsoft.ML.Data;

namespace DiffAutoML.ML.Reporting;

/// <summary>From ML.NET's evaluation to the report's plain <see cref="TestMetrics"/> (kept apart from TestMetrics,
/// which the report renderer compiles without ML.NET).</summary>
public static class TestMetricsConversion
{
    /// <summary>The numbers the report shows, from <c>model.Evaluate(testData)</c>.</summary>
    public static TestMetrics ToTestMetrics(this MulticlassClassificationMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return new TestMetrics
        {
            Accuracy = metrics.MicroAccuracy, MacroAccuracy = metrics.MacroAccuracy, LogLoss = metrics.LogLoss,
            ConfusionCounts = metrics.ConfusionMatrix.Counts.Select(r => (IReadOnlyList<double>)r.ToArray()).ToArray(),
        };
    }
}
