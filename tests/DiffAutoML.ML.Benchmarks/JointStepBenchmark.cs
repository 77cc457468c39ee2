using DiffAutoML.ML.Api;
using Microsoft.ML;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Cost of one joint search step (augmentation sampled and applied, tau's step, the single-path supernet step with
/// alpha's step, the weight step and the hypergradient step on a validation batch, every step) against one plain
/// training step of the child the search chose, through the library's own training loop: each is read from the
/// training images per second of a real Fit on the shipped subset (the epochs' training time, without their validation pass). The two runs
/// alternate, twice, so that machine noise hits both alike. Target: joint search step at most 1.3x the plain step.
/// </summary>
internal static class JointStepBenchmark
{
    public static void Run(string subset, int rounds, string device)
    {
        var ml = new MLContext(seed: 1);
        var train = DatasetTools.LoadFashionMnist(ml, subset, "train");
        Console.WriteLine($"joint search step vs plain step: Compact space, batch 128, device {device}, {Environment.ProcessorCount} CPU threads, {rounds} alternating rounds, subset {subset}");
        var joint = new List<double>();
        var tuning = new List<double>();
        var plain = new List<double>();
        string? architecture = null;
        for (int round = 0; round < rounds; round++)
        {
            // Epochs 6 = 2 search epochs + 4 tuning epochs; the first epoch pays one-off start-up costs and is left out.
            var all = Fit(ml, train, DiffAutoMLComponents.All, 6, null, device);
            architecture ??= all.Architecture;
            joint.Add(all.History.Where(e => e.Stage == "search").Skip(1).Average(e => e.ImagesPerSecond));
            tuning.Add(all.History.Where(e => e.Stage == "tuning").Average(e => e.ImagesPerSecond));
            var none = Fit(ml, train, DiffAutoMLComponents.None, 3, architecture, device);
            plain.Add(none.History.Skip(1).Average(e => e.ImagesPerSecond));
            Console.WriteLine($"  round {round + 1}: joint search {joint[^1]:F0} images/s, joint tuning (DA + HPO) {tuning[^1]:F0}, plain {plain[^1]:F0} ({architecture})");
        }
        double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        Console.WriteLine($"  median: joint search step {Median(plain) / Median(joint):F2}x the plain step; tuning-stage step (augmentation + HPO) {Median(plain) / Median(tuning):F2}x");
    }

    private static Reporting.DiffAutoMLReport Fit(MLContext ml, IDataView train, DiffAutoMLComponents components, int epochs, string? architecture, string device)
    {
        var options = new DiffAutoMLOptions { Epochs = epochs, Components = components, FixedArchitecture = architecture, ProgressEverySteps = 100_000,
            Device = device == "cuda" ? ComputeDevice.Cuda : ComputeDevice.Cpu };
        options.Data.ImageColumnName = "Image";
        return ml.Auto().DiffAutoML(options).Fit(train).Report;
    }
}
