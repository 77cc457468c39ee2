using DiffAutoML.ML.Reporting;
using ScottPlot;

namespace DiffAutoML.Report;

/// <summary>The report's plots, drawn with ScottPlot, as PNG bytes.</summary>
internal static class ReportPlots
{
    private const int Width = 900, Height = 420;

    public static byte[] Accuracy(DiffAutoMLReport report)
    {
        var plot = new Plot();
        double[] epochs = report.History.Select(h => (double)h.Epoch).ToArray();
        var train = plot.Add.Scatter(epochs, report.History.Select(h => h.TrainAccuracy * 100).ToArray());
        train.LegendText = "training (augmented)";
        var validation = plot.Add.Scatter(epochs, report.History.Select(h => h.ValidationAccuracy * 100).ToArray());
        validation.LegendText = "validation";
        if (report.SearchEpochs > 0)
        {
            var line = plot.Add.VerticalLine(report.SearchEpochs + 0.5);
            line.LegendText = "architecture fixed";
            line.LinePattern = LinePattern.Dashed;
        }
        plot.Title("Accuracy per epoch");
        plot.XLabel("epoch");
        plot.YLabel("accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>Probability of the finally chosen block of each layer, per search epoch (rows: layers).</summary>
    public static byte[]? Architecture(DiffAutoMLReport report)
    {
        var search = report.History.Where(h => h.ArchitectureProbabilities.Count > 0).ToArray();
        if (search.Length == 0) return null;
        var blockIndex = new Dictionary<string, int> { ["k3"] = 0, ["k5"] = 1, ["k7"] = 2, ["xc"] = 3 };
        var chosen = report.Architecture.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(b => blockIndex[b]).ToArray();
        int layers = chosen.Length;
        var data = new double[layers, search.Length];
        for (int e = 0; e < search.Length; e++)
            for (int l = 0; l < layers; l++) data[layers - 1 - l, e] = search[e].ArchitectureProbabilities[l][chosen[l]];
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        plot.Title($"P(chosen block) per layer during the search: {report.Architecture}");
        plot.XLabel("search epoch");
        plot.YLabel("layer (top = first)");
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>The final architecture as a row of blocks.</summary>
    public static byte[] Blocks(DiffAutoMLReport report)
    {
        var plot = new Plot();
        var names = report.Architecture.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var colors = new Dictionary<string, Color> { ["k3"] = Colors.SteelBlue, ["k5"] = Colors.SeaGreen, ["k7"] = Colors.DarkOrange, ["xc"] = Colors.MediumPurple };
        for (int i = 0; i < names.Length; i++)
        {
            var box = plot.Add.Rectangle(i, i + 0.9, 0, 1);
            box.FillColor = colors.GetValueOrDefault(names[i], Colors.Gray);
            var label = plot.Add.Text(names[i], i + 0.45, 0.5);
            label.LabelFontSize = 16;
            label.LabelFontColor = Colors.White;
            label.LabelAlignment = Alignment.MiddleCenter;
        }
        plot.Axes.SetLimits(-0.2, names.Length + 0.1, -0.3, 1.3);
        plot.HideGrid();
        plot.Axes.Left.IsVisible = false;
        plot.Title($"Chosen blocks, layers 1-{names.Length}: {report.MFlops:F2} MFLOPs, {report.Parameters:N0} parameters");
        return plot.GetImageBytes(Width, 200, ImageFormat.Png);
    }

    public static byte[]? Augmentation(DiffAutoMLReport report)
    {
        var withPolicy = report.History.Where(h => h.AugmentationProbabilities.Count == report.SubPolicies.Count && report.SubPolicies.Count > 0).ToArray();
        if (withPolicy.Length == 0) return null;
        var final = withPolicy[^1].AugmentationProbabilities;
        var top = Enumerable.Range(0, final.Count).OrderByDescending(k => final[k]).Take(5).ToArray();
        var plot = new Plot();
        double[] epochs = withPolicy.Select(h => (double)h.Epoch).ToArray();
        foreach (var k in top)
        {
            var scatter = plot.Add.Scatter(epochs, withPolicy.Select(h => h.AugmentationProbabilities[k] * 100).ToArray());
            scatter.LegendText = report.SubPolicies[k];
        }
        var uniform = plot.Add.HorizontalLine(100.0 / final.Count);
        uniform.LinePattern = LinePattern.Dotted;
        uniform.LegendText = "uniform";
        plot.Title("Augmentation policy: the five most probable sub-policies at the end, over time");
        plot.XLabel("epoch");
        plot.YLabel("probability (%)");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    public static byte[] WeightDecay(DiffAutoMLReport report)
        => OverSteps(report, r => r.WeightDecay, "Weight decay (learned by hypergradient)", "lambda");

    public static byte[] LearningRate(DiffAutoMLReport report)
        => OverSteps(report, r => r.LearningRate, "Learning rate (cosine schedule x learned multiplier)", "lr");

    private static byte[] OverSteps(DiffAutoMLReport report, Func<DiffAutoML.ML.HyperParameters.HyperparameterRecord, double> value, string title, string label)
    {
        var plot = new Plot();
        var records = report.HyperParameters;
        if (records.Count > 0) plot.Add.Scatter(records.Select(r => (double)r.Step).ToArray(), records.Select(value).ToArray());
        plot.Title(records.Count > 0 ? title : title + ": not tuned in this run");
        plot.XLabel("step");
        plot.YLabel(label);
        return plot.GetImageBytes(Width, 300, ImageFormat.Png);
    }

    public static byte[] ConfusionMatrix(TestMetrics metrics, IReadOnlyList<string> classes)
    {
        var counts = metrics.ConfusionCounts;
        int n = counts.Count;
        var data = new double[n, n];
        for (int actual = 0; actual < n; actual++)
        {
            double total = Math.Max(1, counts[actual].Sum());
            for (int predicted = 0; predicted < n; predicted++) data[actual, predicted] = counts[actual][predicted] / total;
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.FlipVertically = true;
        plot.Add.ColorBar(heatmap);
        var ticks = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, classes.ToArray());
        plot.Axes.Left.SetTicks(ticks, classes.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Title("Confusion matrix on the test data (row: true class, fraction predicted as column)");
        return plot.GetImageBytes(Width, Width, ImageFormat.Png);
    }
}
