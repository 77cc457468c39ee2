using System.Diagnostics;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Training step time of the Compact space's all-k3 child against the input size (forward, backward and SGD on one
/// batch), with glibc's malloc as it comes, with Fit's mallopt settings alone, and with those and libtorch's huge pages
/// (Fit's settings: NativeAllocator), each in a process of its own, on the main thread or a pool thread
/// (docs/benchmarks.md, "Native memory on Linux").
/// </summary>
internal static class InputSizeBenchmark
{
    private const int Steps = 8, WarmUp = 2;

    public static void Run(string sizes, int batch, int channels, string threads)
    {
        Console.WriteLine($"input-size benchmark: Compact all-k3 child, batch {batch}, {channels} channels, {Steps - WarmUp} timed steps after {WarmUp} warm-up, " +
            $"{Environment.ProcessorCount} CPU threads");
        // Fit's settings are two: mallopt while it runs (NativeAllocator.DuringFit) and libtorch's huge pages
        // (NativeAllocator.RequestHugePages, which an environment variable of 0 turns off).
        var noHugePages = new Dictionary<string, string> { [NativeAllocator.HugePagesVariable] = "0" };
        foreach (var thread in threads.Split(','))
        {
            ChildProcess.RunSelf($"input-sizes-run glibc-defaults {sizes} {batch} {channels} {thread}", noHugePages);
            ChildProcess.RunSelf($"input-sizes-run fit-settings {sizes} {batch} {channels} {thread}", noHugePages);
            ChildProcess.RunSelf($"input-sizes-run fit-settings {sizes} {batch} {channels} {thread}");
        }
    }

    /// <summary>One table in this process.</summary>
    public static void RunInThisProcess(bool fitSettings, string sizeList, int batch, int channels, string thread)
    {
        // glibc gives the main thread its main arena and other threads arenas of their own, whose heaps are 64 MiB at
        // most: there a larger block is mapped whatever the settings. Fit runs on a pool thread in a server or a notebook.
        if (thread == "pool") { Task.Run(() => Table(fitSettings, sizeList, batch, channels, thread)).GetAwaiter().GetResult(); return; }
        if (thread != "main") throw new ArgumentException($"thread '{thread}': main or pool");
        Table(fitSettings, sizeList, batch, channels, thread);
    }

    private static void Table(bool fitSettings, string sizeList, int batch, int channels, string thread)
    {
        var sizes = sizeList.Split(',').Select(s => s.Split('x')).Select(p => (Height: int.Parse(p[0]), Width: int.Parse(p[1]))).ToArray();
        using var allocator = NativeAllocator.DuringFit(fitSettings);
        TorchRuntime.EnsureCpu();
        var hugePages = NativeAllocator.NativeVariable(NativeAllocator.HugePagesVariable) == "1";
        Console.WriteLine((fitSettings ? $"  mallopt as during Fit (glibc: {NativeAllocator.IsGlibc})" : "  malloc with glibc's defaults") +
            $", libtorch huge pages {(hugePages ? "on" : "off")}, {thread} thread");
        Console.WriteLine($"  {"size (HxW)",-11} {"ms/step",8} {"forward",8} {"backward",9} {"us/pixel",9}");
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
        Console.WriteLine($"  peak resident memory of this process: {Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB");
    }
}
