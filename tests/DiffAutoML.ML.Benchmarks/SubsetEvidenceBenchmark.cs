using System.Diagnostics;
using DiffAutoML.ML.Api;
using Microsoft.ML;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// The estimator's evidence on the shipped subset: full DiffAutoML and its three ablations, one after the other, each a
/// Fit with the same seed and the same wall-clock budget (Epochs null: the plan is sized to the budget), tested on the
/// 1,000 shipped test images. Prints a Markdown table.
/// </summary>
internal static class SubsetEvidenceBenchmark
{
    public static void Run(string subset, int budgetSeconds)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = (DatasetTools.LoadFashionMnist(ml, subset, "train"), DatasetTools.LoadFashionMnist(ml, subset, "t10k"));
        Console.WriteLine($"subset evidence: {subset}, budget {budgetSeconds} s per row, seed 1, CPU threads {Environment.ProcessorCount}");
        Console.WriteLine("| components | test accuracy | validation | epochs (search) | wall time | architecture | MFLOPs |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        var rows = new[]
        {
            DiffAutoMLComponents.All, DiffAutoMLComponents.Architecture,
            DiffAutoMLComponents.Augmentation | DiffAutoMLComponents.HyperParameters, DiffAutoMLComponents.None,
        };
        foreach (var components in rows)
        {
            var options = new DiffAutoMLOptions { Epochs = null, TimeBudget = TimeSpan.FromSeconds(budgetSeconds), Components = components, Seed = 1, ProgressEverySteps = 100_000 };
            options.Data.ImageColumnName = "Image";
            var clock = Stopwatch.StartNew();
            var model = ml.Auto().DiffAutoML(options).Fit(train);
            double seconds = clock.Elapsed.TotalSeconds;
            var accuracy = model.Evaluate(test).MicroAccuracy;
            var r = model.Report;
            Console.WriteLine($"| {components} | {100 * accuracy:F2}% | {100 * r.ValidationAccuracy:F2}% | {r.EpochsCompleted} ({r.SearchEpochs}) | {seconds:F0} s | {r.Architecture} | {r.MFlops:F2} |");
        }
    }
}
