using DiffAutoML.ML.Data;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// How fast a single-path supernet learns, against the all-k3 child trained alone: training accuracy per epoch on the
/// shipped subset, plain SGD (no augmentation, no architecture updates), a uniformly random path every step. Compares
/// the supernet with the projections of its stride-2 layers shared by their candidates (the default), with one
/// projection per candidate (the DSNAS design), and with the k3/k5/k7 candidates sharing one kernel's weights too
/// (<see cref="SearchSpaceOptions.SharedKernels"/>).
/// </summary>
internal static class SupernetTrainingBenchmark
{
    public static void Run(string subset, int epochs)
    {
        TorchRuntime.EnsureCpu();
        var content = IdxDataset.Read(Path.Combine(subset, "train-images-idx3-ubyte.gz"), Path.Combine(subset, "train-labels-idx1-ubyte.gz"));
        using var images = tensor(content.Pixels).reshape(content.Count, 1, content.Height, content.Width).to(ScalarType.Float32).div(255);
        using var x = (images - images.mean()) / images.std();
        using var y = tensor(content.Labels).to(ScalarType.Int64);
        Console.WriteLine($"supernet training: Compact space, {content.Count} images, batch 128, SGD lr 0.05 momentum 0.9, CPU threads {Environment.ProcessorCount}; training accuracy per epoch");
        foreach (var (name, shared, kernels, random) in new[]
                 {
                     ("child (all k3)", true, false, false), ("supernet, shared projections", true, false, true),
                     ("supernet, projection per candidate", false, false, true), ("supernet, shared projections and kernels", true, true, true),
                 })
        {
            var accuracies = Train(x, y, shared, kernels, random, epochs);
            Console.WriteLine($"  {name,-42} {string.Join("  ", accuracies.Select(a => $"{a,6:P1}"))}");
        }
    }

    private static double[] Train(Tensor x, Tensor y, bool shared, bool sharedKernels, bool randomPath, int epochs)
    {
        manual_seed(1);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = (int)x.shape[2], SharedProjections = shared, SharedKernels = sharedKernels });
        var path = new int[space.Layers.Count];
        using var model = randomPath ? (nn.Module<Tensor, Tensor>)new Supernet(space) : new ChildNetwork(space, path);
        var supernet = model as Supernet;
        using var sgd = new HypergradientSgd(model.parameters(), new HyperparameterOptions { TuneWeightDecay = false }, new LearningRateSchedule(0.05, 0, 1_000_000));
        var random = new Random(1);
        const int batch = 128;
        var accuracies = new double[epochs];
        model.train();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            using var order = randperm(x.shape[0]);
            long correct = 0, seen = 0;
            for (long start = 0; start + batch <= x.shape[0]; start += batch)
            {
                using var scope = NewDisposeScope();
                if (supernet is not null) supernet.Path = path.Select(_ => random.Next(BlockChoices.Count)).ToArray();
                var rows = order.narrow(0, start, batch);
                var (xb, yb) = (x.index_select(0, rows), y.index_select(0, rows));
                model.zero_grad();
                var logits = model.forward(xb);
                nn.functional.cross_entropy(logits, yb).backward();
                sgd.Step();
                correct += logits.argmax(1).eq(yb).sum().item<long>();
                seen += batch;
            }
            accuracies[epoch] = (double)correct / seen;
        }
        return accuracies;
    }
}
