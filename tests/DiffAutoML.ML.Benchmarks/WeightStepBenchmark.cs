using System.Diagnostics;
using System.Globalization;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// The weight step and the hypergradient step of <see cref="HypergradientSgd"/> on the parameters of the Compact
/// all-k3 child (1x28x28, 10 classes), with the parameters in one buffer (the library's default) against each in its own
/// storage, side by side on one device. Gradients are fixed random tensors, so only the optimizer is timed; one
/// synchronization after the timed steps. On a GPU each tensor operation is a kernel launch and the per-parameter form
/// issues four per parameter.
/// </summary>
internal static class WeightStepBenchmark
{
    public static void Run(string deviceName, int steps, double width)
    {
        var device = BenchmarkDevice.Select(deviceName);
        var options = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28, Classes = 10 };
        var space = new SearchSpace(width == 1 ? options : options.Widened(width));
        var hyper = new HyperparameterOptions { TuneLearningRate = true };
        Console.WriteLine($"weight step on {device}: Compact all-k3 child, width {width}, {steps} timed steps after 10 warm-up; torch threads {get_num_threads()}");
        foreach (bool flatten in new[] { false, true, false, true })
        {
            manual_seed(1);
            using var child = new ChildNetwork(space, new int[space.Layers.Count]);
            child.to(device);
            var parameters = child.parameters().ToArray();
            using var sgd = new HypergradientSgd(parameters, hyper, new LearningRateSchedule(0.05, 0, 1_000_000), flatten);
            var grads = parameters.Select(p => (randn_like(p) * 1e-3).DetachFromDisposeScope()).ToArray();
            void Step()
            {
                using var scope = NewDisposeScope();
                for (int i = 0; i < parameters.Length; i++) parameters[i].grad = grads[i].clone();
                sgd.Step();
                for (int i = 0; i < parameters.Length; i++) parameters[i].grad = grads[i].clone();
                sgd.HyperStep();
                child.zero_grad();
            }
            for (int i = 0; i < 10; i++) Step();
            BenchmarkDevice.Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) Step();
            BenchmarkDevice.Synchronize(device);
            double ms = clock.Elapsed.TotalMilliseconds / steps;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(flatten ? "one buffer" : "per parameter"),-14} {parameters.Length} parameter tensors, {parameters.Sum(p => p.numel())} values: {ms:F3} ms per weight step + hypergradient step (gradients set by 2 x {parameters.Length} copies included)"));
            foreach (var g in grads) g.Dispose();
        }
    }
}
