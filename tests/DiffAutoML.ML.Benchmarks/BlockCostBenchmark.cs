using System.Diagnostics;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// What the measured-cost budget sees (<see cref="BlockCostTable"/>, Compact space, 1x28x28) against what it stands
/// for: the training step of the four uniform children (every layer the same block), each in its own process, with
/// their multiply-adds, which predict the step's cost far worse on a CPU.
/// </summary>
internal static class BlockCostBenchmark
{
    public static void Run(int batch)
    {
        TorchRuntime.EnsureCpu();
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        Console.WriteLine($"block costs: Compact space, batch {batch}, CPU threads {Environment.ProcessorCount}");
        using (var supernet = new Supernet(space))
        {
            var clock = Stopwatch.StartNew();
            var costs = BlockCostTable.Measure(supernet, batch);
            Console.WriteLine($"  measured in {clock.Elapsed.TotalSeconds:F1} s; ms per layer (k3 k5 k7 xc):");
            foreach (var (row, l) in costs.Milliseconds.Select((r, l) => (r, l))) Console.WriteLine($"    layer {l}: {string.Join(" ", row.Select(v => $"{v,6:F2}"))}");
            foreach (var c in Enum.GetValues<BlockChoice>())
            {
                var path = Enumerable.Repeat((int)c, space.Layers.Count).ToArray();
                Console.WriteLine($"  all-{c.ShortName()}: measured blocks {costs.RelativeCost(path):F2}x the cheapest child's, {space.ChildMultiplyAdds(path) / 1e6:F2} MFLOPs");
            }
        }
        Console.WriteLine("  training step of each uniform child (own process):");
        foreach (var c in Enum.GetValues<BlockChoice>())
            ChildProcess.RunSelf($"search-step child compact {batch} {(int)c}");
    }
}
