using System.Diagnostics;
using System.Globalization;
using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// The joint search step, timed in TorchSharp through the library's own components, for the side-by-side comparison with
/// its PyTorch twin (scripts/step_comparison.py, which builds the same supernet and takes the same step). One step:
/// sample a path from softmax(alpha) (a host read), forward the supernet on the training batch recording each block's
/// output, label-smoothed cross-entropy, backward, alpha's DSNAS step from the gate gradients (Adam), the weight step
/// (SGD with momentum and weight decay), and the hypergradient step (a validation batch of a quarter of the training batch
/// forward and backward, the weight-decay hypergradient, one host read). With "augment", the step also samples and
/// applies the augmentation policy and takes tau's step; the PyTorch twin has no augmentation, so that row is TorchSharp
/// only. Inputs are fixed random tensors on the device, so neither side pays for data loading. Prints one JSON line.
/// </summary>
internal static class StepComparisonBenchmark
{
    public static void Run(string preset, int batch, int steps, string deviceName, bool augment)
    {
        var device = BenchmarkDevice.Select(deviceName);
        manual_seed(1);
        var space = new SearchSpace(preset == "paper"
            ? new SearchSpaceOptions { Preset = SearchSpacePreset.Paper, InputChannels = 3, Classes = 1000 }
            : new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 3, Height = 32, Classes = 10 });
        int h = space.Options.Height!.Value, w = space.Options.Width!.Value;
        var supernet = new Supernet(space) { RecordGateGradients = true };
        supernet.to(device); // built on the CPU, then moved
        // EarlyFixMargin 2 never fixes a layer, so every step samples all layers, as the twin does.
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { EarlyFixMargin = 2 }, device, 1);
        var hyper = new HyperparameterOptions { LearningRate = 0.1, WeightDecay = 4e-5 };
        using var sgd = new HypergradientSgd(supernet.parameters(), hyper, new LearningRateSchedule(0.1, 0, 1_000_000));
        using var policy = augment ? new AugmentationPolicy(new AugmentationOptions(), device) : null;
        using var generator = new Generator(1); // CPU: AugmentationPolicy.Sample draws there
        using var x = (rand(batch, 3, h, w, device: device) * 255).floor_();
        using var y = randint(0, space.Classes, new long[] { batch }, device: device);
        int validationBatch = Math.Max(1, batch / 4);
        using var xv = randn(validationBatch, 3, h, w, device: device);
        using var yv = randint(0, space.Classes, new long[] { validationBatch }, device: device);

        void Step()
        {
            using var scope = NewDisposeScope();
            var images = x;
            AugmentationSample? sample = null;
            if (policy is not null)
            {
                sample = policy.Sample(batch, generator);
                images = policy.Augment(x, sample);
            }
            var input = (images / 255 - 0.5) / 0.25;
            var path = alpha.SamplePath();
            supernet.Path = path;
            supernet.train();
            supernet.zero_grad();
            var perSample = nn.functional.cross_entropy(supernet.forward(input), y, reduction: nn.Reduction.None, label_smoothing: 0.1);
            perSample.mean().backward();
            if (policy is not null) policy.Step(perSample, sample!);
            alpha.Step(supernet.GateGradients(), path);
            sgd.Step();
            supernet.zero_grad();
            nn.functional.cross_entropy(supernet.forward(xv), yv).backward();
            sgd.HyperStep();
            supernet.zero_grad();
        }

        const int warmUp = 10;
        for (int i = 0; i < warmUp; i++) Step();
        BenchmarkDevice.Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        BenchmarkDevice.Synchronize(device);
        double ms = clock.Elapsed.TotalMilliseconds / steps;
        long parameters = supernet.parameters().Sum(p => p.numel());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"framework\":\"TorchSharp\",\"preset\":\"{preset}\",\"augment\":{(augment ? "true" : "false")},\"size\":{h},\"batch\":{batch},\"device\":\"{device}\",\"steps\":{steps},\"ms_per_step\":{ms:F3},\"images_per_s\":{batch * 1000 / ms:F1},\"supernet_parameters\":{parameters}}}"));
    }
}
