using System.Diagnostics;
using System.Globalization;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// A plain training step (forward, loss, backward, SGD with momentum) of the Compact all-k3 child on 1x28x28 images with
/// the first stage at full resolution (stage strides 1,2,2,2: the GPU's best Fashion-MNIST row), with cuDNN's benchmark
/// mode off and on, alternating in one run (off, on, off, on). The first 10 steps of each round are timed apart: they
/// hold the algorithm timing of a first "on" round (a later "on" round finds cuDNN's cache filled). Random images and
/// labels already on the device, so only the step is timed; one synchronization at the end of each timing. On the CPU
/// the flag changes nothing (a check that the program runs, and a floor for the noise).
/// </summary>
internal static class CudnnBenchmarkModeBenchmark
{
    public static void Run(string deviceName, int batch, int steps, double width)
    {
        var device = BenchmarkDevice.Select(deviceName);
        var options = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28, Classes = 10, StageStrides = new[] { 1, 2, 2, 2 } };
        var space = new SearchSpace(width == 1 ? options : options.Widened(width));
        var flag = LibtorchContextFlag.CudnnBenchmark;
        bool? before = flag.Get();
        if (before is null) throw new InvalidOperationException("cuDNN's benchmark flag cannot be reached on this platform (Linux x64 only).");
        Console.WriteLine($"cuDNN benchmark mode on {device}: all-k3 child, stage strides 1,2,2,2, width {width}, batch {batch}; 10 first steps, then {steps} timed; torch threads {get_num_threads()}");
        try
        {
            foreach (bool benchmark in new[] { false, true, false, true })
            {
                flag.TrySet(benchmark);
                manual_seed(1);
                using var child = new ChildNetwork(space, new int[space.Layers.Count]);
                child.to(device);
                child.train();
                using var sgd = optim.SGD(child.parameters(), 0.05, momentum: 0.9);
                using var images = randn(new long[] { batch, 1, 28, 28 }, device: device);
                using var labels = randint(0, 10, new long[] { batch }, device: device);
                void Step()
                {
                    using var scope = NewDisposeScope();
                    sgd.zero_grad();
                    nn.functional.cross_entropy(child.forward(images), labels).backward();
                    sgd.step();
                }
                double Time(int count)
                {
                    var clock = Stopwatch.StartNew();
                    for (int i = 0; i < count; i++) Step();
                    BenchmarkDevice.Synchronize(device);
                    return clock.Elapsed.TotalMilliseconds;
                }
                double first = Time(10);
                double ms = Time(steps) / steps;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"benchmark mode {(benchmark ? "on " : "off")}: first 10 steps {first:F0} ms; then {ms:F2} ms per step, {batch * 1000 / ms:F0} images/s"));
            }
        }
        finally { flag.TrySet(before.Value); }
    }
}
