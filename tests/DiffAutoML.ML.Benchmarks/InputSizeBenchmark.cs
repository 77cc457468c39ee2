using System.Diagnostics;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Training step time of the Compact space's all-k3 child against the input size (forward, backward and SGD on one
/// batch), with glibc's malloc as it comes and with the settings Fit uses (NativeAllocator), each in a process of its
/// own (docs/benchmarks.md, "Native memory on Linux").
/// </summary>
internal static class InputSizeBenchmark
{
    private const int Steps = 8, WarmUp = 2;

    public static void Run(string sizes, int batch, int channels)
    {
        Console.WriteLine($"input-size benchmark: Compact all-k3 child, batch {batch}, {channels} channels, {Steps - WarmUp} timed steps after {WarmUp} warm-up, " +
            $"{Environment.ProcessorCount} CPU threads");
        foreach (var allocator in new[] { "glibc-defaults", "fit-settings" })
            ChildProcess.RunSelf($"input-sizes-run {allocator} {sizes} {batch} {channels}");
    }

    /// <summary>One table in this process.</summary>
    public static void RunInThisProcess(bool fitSettings, string sizeList, int batch, int channels)
    {
        var sizes = sizeList.Split(',').Select(s => s.Split('x')).Select(p => (Height: int.Parse(p[0]), Width: int.Parse(p[1]))).ToArray();
        using var allocator = NativeAllocator.DuringFit(fitSettings);
        Console.WriteLine(fitSettings ? $"  malloc as during Fit (NativeAllocator; glibc: {NativeAllocator.IsGlibc})" : "  malloc with glibc's defaults");
        Console.WriteLine($"  {"size (HxW)",-11} {"ms/step",8} {"forward",8} {"backward",9} {"us/pixel",9}");
        TorchRuntime.EnsureCpu();
        foreach (var (h, w) in sizes)
        {
            manual_seed(1);
            var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = channels, Height = h, Width = w, Classes = 10 });
            using var child = new ChildNetwork(space, new int[space.Layers.Count]);
            using var optimizer = optim.SGD(child.parameters(), 0.01, momentum: 0.9);
            using var x = randn(batch, channels, h, w);
            using var y = randint(0, 10, new long[] { batch });
            double total = 0, forward = 0, backward = 0;
            for (int step = 0; step < Steps; step++)
            {
                using var scope = NewDisposeScope();
                var start = Stopwatch.GetTimestamp();
                child.zero_grad();
                var loss = nn.functional.cross_entropy(child.forward(x), y);
                _ = loss.item<float>();
                var forwardDone = Stopwatch.GetTimestamp();
                loss.backward();
                var backwardDone = Stopwatch.GetTimestamp();
                optimizer.step();
                if (step < WarmUp) continue;
                total += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                forward += Stopwatch.GetElapsedTime(start, forwardDone).TotalMilliseconds;
                backward += Stopwatch.GetElapsedTime(forwardDone, backwardDone).TotalMilliseconds;
            }
            int n = Steps - WarmUp;
            Console.WriteLine($"  {$"{h}x{w}",-11} {total / n,8:F1} {forward / n,8:F1} {backward / n,9:F1} {total / n * 1000 / ((double)batch * h * w),9:F3}");
        }
    }
}
