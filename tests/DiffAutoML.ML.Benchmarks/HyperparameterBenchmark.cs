using System.Diagnostics;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Cost of a training step with the hypergradient update (eta every step, every 10 steps) against the same step
/// without it, on the Compact child at 28x28, interleaved so that machine noise hits every variant alike
/// (targets: at most 1.6x every step, 1.1x every 10 steps).
/// </summary>
internal static class HyperparameterBenchmark
{
    public static void Run(int batch, int rounds)
    {
        TorchRuntime.EnsureCpu();
        manual_seed(1);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        using var model = new ChildNetwork(space, Enumerable.Range(0, space.Layers.Count).Select(l => l % 4).ToArray());
        var x = randn(batch, 1, 28, 28);
        var y = randint(0, 10, new long[] { batch });
        var variants = new (string Name, int Every, int ValidationBatch)[]
        {
            ("no HPO", 0, 0), ($"eta every step, validation batch {batch}", 1, batch), ($"eta every step, validation batch {batch / 2}", 1, batch / 2),
            ($"eta every step, validation batch {batch / 4}", 1, batch / 4), ($"eta every step, validation batch {batch / 8}", 1, batch / 8),
            ($"eta every 10 steps, validation batch {batch}", 10, batch),
        };
        var optimizers = variants.Select(v => new HypergradientSgd(model.parameters(), new HyperparameterOptions { UpdateEvery = Math.Max(v.Every, 1), TuneWeightDecay = v.Every > 0, TuneLearningRate = v.Every > 0 }, new LearningRateSchedule(0.01, 0, 1_000_000))).ToArray();
        var totals = new double[variants.Length];
        const int stepsPerRound = 10;
        for (int round = 0; round < rounds + 1; round++)
            for (int v = 0; v < variants.Length; v++)
            {
                var clock = Stopwatch.StartNew();
                for (int s = 0; s < stepsPerRound; s++)
                {
                    using var scope = NewDisposeScope();
                    model.zero_grad();
                    nn.functional.cross_entropy(model.forward(x), y).backward();
                    optimizers[v].Step();
                    if (optimizers[v].HyperStepDue)
                    {
                        model.zero_grad();
                        var n = variants[v].ValidationBatch;
                        nn.functional.cross_entropy(model.forward(x.narrow(0, 0, n)), y.narrow(0, 0, n)).backward();
                        optimizers[v].HyperStep();
                    }
                }
                if (round > 0) totals[v] += clock.Elapsed.TotalMilliseconds; // round 0 warms up
            }
        Console.WriteLine($"HPO step cost, Compact child (10 layers, 1x28x28), batch {batch}, {rounds} interleaved rounds of {stepsPerRound} steps, CPU threads {Environment.ProcessorCount}");
        for (int v = 0; v < variants.Length; v++)
            Console.WriteLine($"  {variants[v].Name,-42} {totals[v] / (rounds * stepsPerRound),7:F1} ms/step   ratio {totals[v] / totals[0]:F2}x");
        foreach (var o in optimizers) o.Dispose();
    }
}
