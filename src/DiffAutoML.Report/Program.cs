using System.Text.Json;
using DiffAutoML.ML.Reporting;
using DiffAutoML.Report;

// diffautoml-report <folder>: reads report.json (and test-metrics.json when present) from the folder that
// `diffautoml train` wrote, and writes report.html (self-contained) and the plots as PNG files beside it.
if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: diffautoml-report <folder with report.json>");
    return 2;
}
var folder = args[0];
var reportPath = Path.Combine(folder, "report.json");
if (!File.Exists(reportPath))
{
    Console.Error.WriteLine($"error: '{reportPath}' does not exist.");
    return 1;
}
var report = DiffAutoMLReport.FromJson(File.ReadAllText(reportPath));
var metricsPath = Path.Combine(folder, "test-metrics.json");
var metrics = File.Exists(metricsPath) ? JsonSerializer.Deserialize<TestMetrics>(File.ReadAllText(metricsPath)) : null;
Console.WriteLine(HtmlReportWriter.Write(folder, report, metrics));
return 0;
