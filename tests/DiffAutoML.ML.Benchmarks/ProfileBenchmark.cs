using System.Diagnostics;
using DiffAutoML.ML.Api;
using Microsoft.ML;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// The two profiles (<see cref="DiffAutoMLOptions.FromProfile"/>) side by side on the shipped subset: for each seed, a
/// full search (all components) with the Paper and then the Efficient profile, the same number of epochs, tested on the
/// 1,000 shipped test images. Prints a Markdown table; the wall time includes the block timing of Efficient's budget.
/// </summary>
internal static class ProfileBenchmark
{
    public static void Run(string subset, int epochs, int seeds)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = (DatasetTools.LoadFashionMnist(ml, subset, "train"), DatasetTools.LoadFashionMnist(ml, subset, "t10k"));
        Console.WriteLine($"profiles: {subset}, {epochs} epochs, seeds 1-{seeds}, CPU threads {TorchSharp.torch.get_num_threads()}");
        Console.WriteLine("| seed | profile | test accuracy | log-loss | validation | epochs (search) | Fit wall time | architecture | MFLOPs |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int seed = 1; seed <= seeds; seed++)
            foreach (var profile in new[] { DiffAutoMLProfile.Paper, DiffAutoMLProfile.Efficient })
            {
                var options = DiffAutoMLOptions.FromProfile(profile);
                (options.Epochs, options.Seed, options.ProgressEverySteps) = (epochs, seed, 100_000);
                options.Data.ImageColumnName = "Image";
                var clock = Stopwatch.StartNew();
                var model = new MLContext(seed: seed).Auto().DiffAutoML(options).Fit(train);
                double seconds = clock.Elapsed.TotalSeconds;
                var metrics = model.Evaluate(test);
                var r = model.Report;
                Console.WriteLine($"| {seed} | {profile} | {100 * metrics.MicroAccuracy:F2}% | {metrics.LogLoss:F3} | {100 * r.ValidationAccuracy:F2}% | {r.EpochsCompleted} ({r.SearchEpochs}) | {seconds:F0} s | {r.Architecture} | {r.MFlops:F2} |");
            }
    }
}
