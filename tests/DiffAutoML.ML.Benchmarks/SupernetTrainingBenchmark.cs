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
/// (<see cref="SearchSpaceOptions.SharedKernels"/>). Further rows with shared kernels isolate why the supernet still
/// learns slower than the child: the paths a 1.1x measured-cost budget admits (the all-k3 child or one 5x5 or Xception
/// block, each of the 21 alike, as <see cref="ArchitectureSearchOptions.SampleWithinBudget"/> draws them from a uniform
/// alpha), the same without the Xception block, and the shared 7x7 kernels scaled by 7/3 so that their centre 3x3
/// starts at a 3x3 kernel's initial scale.
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
        const int k5 = (int)BlockChoice.Shuffle5, xc = (int)BlockChoice.Xception;
        foreach (var (name, shared, kernels, paths, scale) in new (string, bool, bool, Paths?, bool)[]
                 {
                     ("child (all k3)", true, false, null, false), ("supernet, shared projections", true, false, Uniform, false),
                     ("supernet, projection per candidate", false, false, Uniform, false), ("supernet, shared projections and kernels", true, true, Uniform, false),
                     ("  + centre 3x3 at a 3x3 kernel's scale", true, true, Uniform, true),
                     ("  paths within a 1.1x budget", true, true, OneDearerBlock(k5, xc), false),
                     ("  paths within a 1.1x budget, no Xception", true, true, OneDearerBlock(k5), false),
                     ("  paths within a 1.1x budget, scaled centre", true, true, OneDearerBlock(k5, xc), true),
                 })
        {
            var accuracies = Train(x, y, shared, kernels, paths, scale, epochs);
            Console.WriteLine($"  {name,-46} {string.Join("  ", accuracies.Select(a => $"{a,6:P1}"))}");
        }
    }

    // A path per step: the layer count and the benchmark's random numbers in, one choice per layer out.
    private delegate int[] Paths(int layers, Random random);

    private static int[] Uniform(int layers, Random random) => Enumerable.Range(0, layers).Select(_ => random.Next(BlockChoices.Count)).ToArray();

    // All k3, or one layer set to one of the dearer choices: each of the 1 + layers x dearer.Length paths equally likely.
    private static Paths OneDearerBlock(params int[] dearer) => (layers, random) =>
    {
        var path = new int[layers];
        int pick = random.Next(1 + layers * dearer.Length);
        if (pick > 0) path[(pick - 1) / dearer.Length] = dearer[(pick - 1) % dearer.Length];
        return path;
    };

    private static double[] Train(Tensor x, Tensor y, bool shared, bool sharedKernels, Paths? paths, bool scaleSharedKernels, int epochs)
    {
        manual_seed(1);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = (int)x.shape[2], SharedProjections = shared, SharedKernels = sharedKernels });
        var path = new int[space.Layers.Count];
        using var model = paths is not null ? (nn.Module<Tensor, Tensor>)new Supernet(space) : new ChildNetwork(space, path);
        var supernet = model as Supernet;
        if (scaleSharedKernels)
            using (no_grad())
                foreach (var (_, weight) in model.named_parameters().Where(p => p.name.StartsWith("layers.", StringComparison.Ordinal) && p.parameter.shape is [_, 1, 7, 7]))
                    weight.mul_(Scalars.Of(7.0 / 3));
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
                if (supernet is not null) supernet.Path = paths!(path.Length, random);
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
