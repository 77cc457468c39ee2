using System.Net;
using System.Text;
using DiffAutoML.ML.IO;
using DiffAutoML.ML.Reporting;

namespace DiffAutoML.Report;

/// <summary>Writes report.html (self-contained: plots embedded as PNG data) and the plots as PNG files.</summary>
internal static class HtmlReportWriter
{
    public static string Write(string folder, DiffAutoMLReport report, TestMetrics? metrics)
    {
        var plots = new List<(string File, string Caption, byte[] Png)>
        {
            ("accuracy.png", "Training and validation accuracy per epoch; the dashed line marks the end of the architecture search.", ReportPlots.Accuracy(report)),
            ("architecture-blocks.png", "The deployed network: the block chosen in each layer (k3/k5/k7: ShuffleNetV2 block with that depthwise kernel; xc: Xception-like block).", ReportPlots.Blocks(report)),
        };
        if (ReportPlots.Architecture(report) is { } alpha)
            plots.Add(("architecture-search.png", "Architecture search: probability of the finally chosen block in each layer, per search epoch.", alpha));
        if (ReportPlots.Augmentation(report) is { } tau)
            plots.Add(("augmentation.png", "Augmentation policy tau: the probabilities of the final five most probable sub-policies over the epochs.", tau));
        plots.Add(("weight-decay.png", "Weight decay over the training steps.", ReportPlots.WeightDecay(report)));
        plots.Add(("learning-rate.png", "Learning rate over the training steps.", ReportPlots.LearningRate(report)));
        if (metrics is not null)
            plots.Add(("confusion-matrix.png", "Confusion matrix on the test data.", ReportPlots.ConfusionMatrix(metrics, report.Classes)));
        foreach (var (file, _, png) in plots) AtomicFile.WriteAllBytes(Path.Combine(folder, file), png);

        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DiffAutoML report</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;max-width:960px;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{max-width:100%;border:1px solid #eee}figcaption{color:#555;margin-bottom:1.5em}")
            .Append("</style></head><body><h1>DiffAutoML report</h1>");
        html.Append("<table>");
        Row(html, "Architecture", report.Architecture);
        Row(html, "Size", $"{report.MFlops:F2} MFLOPs per image, {report.Parameters:N0} parameters");
        Row(html, "Input", report.InputShape);
        Row(html, "Classes", string.Join(", ", report.Classes));
        Row(html, "Validation accuracy", $"{report.ValidationAccuracy:P2} (epoch {report.ReturnedEpoch} of {report.EpochsCompleted}; {report.StoppedBy})" +
            (report.TestTimeViewsValidationAccuracy is double averaged ? $"; {averaged:P2} with test-time views (how the model scores)" : ""));
        if (metrics is not null) Row(html, "Test accuracy", $"{metrics.Accuracy:P2} (macro {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F3})");
        Row(html, "Components", report.Components);
        Row(html, "Data", $"{report.TrainImages} training, {report.ValidationImages} validation images; {report.SkippedRows} rows skipped");
        Row(html, "Time", $"{report.TotalSeconds:F0} s in all: search {report.SearchSeconds:F0} s ({report.SearchEpochs} epochs), tuning {report.TuningSeconds:F0} s; device {report.Device}{(report.Resumed ? "; resumed from a checkpoint" : "")}");
        html.Append("</table>");
        foreach (var (file, caption, png) in plots)
            html.Append("<figure><img alt=\"").Append(WebUtility.HtmlEncode(caption)).Append("\" src=\"data:image/png;base64,")
                .Append(Convert.ToBase64String(png)).Append("\"><figcaption>").Append(WebUtility.HtmlEncode(caption)).Append("</figcaption></figure>");
        html.Append("<h2>Options</h2><table>");
        foreach (var (name, value) in report.Options) Row(html, name, value);
        html.Append("</table><h2>Epochs</h2><table><tr><th>epoch</th><th>stage</th><th>train loss</th><th>train acc.</th><th>val. loss</th><th>val. acc.</th><th>lr</th><th>weight decay</th><th>architecture</th></tr>");
        foreach (var h in report.History)
            html.Append($"<tr><td>{h.Epoch}</td><td>{h.Stage}</td><td>{h.TrainLoss:F3}</td><td>{h.TrainAccuracy:P1}</td><td>{h.ValidationLoss:F3}</td><td>{h.ValidationAccuracy:P1}</td><td>{h.LearningRate:G3}</td><td>{h.WeightDecay:G3}</td><td>{WebUtility.HtmlEncode(h.Architecture)}</td></tr>");
        html.Append("</table></body></html>");
        var path = Path.Combine(folder, "report.html");
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(html.ToString()));
        return path;
    }

    private static void Row(StringBuilder html, string name, string value)
        => html.Append("<tr><th>").Append(WebUtility.HtmlEncode(name)).Append("</th><td>").Append(WebUtility.HtmlEncode(value)).Append("</td></tr>");
}
