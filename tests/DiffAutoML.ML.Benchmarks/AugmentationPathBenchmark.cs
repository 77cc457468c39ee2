using System.Diagnostics;
using System.Globalization;
using DiffAutoML.ML.Augmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// The policy's two augmentation stages by the two paths of <see cref="BatchAugmenter"/>, side by side on one device:
/// grouped by operation (one host read of the group sizes per call, each operation on its own samples: the CPU's path)
/// and by selection (every operation for the whole batch, no host read: the CUDA path). Each path runs back to back on
/// the same batches and samples, with one synchronization after the timed calls, so a host read inside a call costs
/// what it costs in training: the wait for the device to finish what was queued. Also checks that both give the same
/// pixels. One line per image size.
/// </summary>
internal static class AugmentationPathBenchmark
{
    public static void Run(string deviceName, int batch, int calls)
    {
        var device = BenchmarkDevice.Select(deviceName);
        Console.WriteLine($"augmentation paths on {device}: two stages per call, 196 sub-policies (uniform tau), {calls} timed calls after 5 warm-up; CPU threads {Environment.ProcessorCount}, torch threads {get_num_threads()}");
        using var policy = new AugmentationPolicy(new AugmentationOptions(), device);
        foreach (var (channels, size, b) in new[] { (1, 28, batch), (3, 32, batch), (3, 64, batch), (3, 224, Math.Max(1, batch / 16)) })
        {
            var pixels = new Generator(1);
            var generator = new Generator(2);
            var inputs = Enumerable.Range(0, 4).Select(_ => randint(0, 256, new long[] { b, channels, size, size }, generator: pixels).to(ScalarType.Float32).to(device)).ToArray();
            var samples = Enumerable.Range(0, 4).Select(_ => policy.Sample(b, generator)).ToArray();
            foreach (var s in samples) { s.SubPolicies.DetachFromDisposeScope(); s.First.DetachFromDisposeScope(); s.Second.DetachFromDisposeScope(); s.Levels.DetachFromDisposeScope(); s.Signs.DetachFromDisposeScope(); }

            Tensor Grouped(Tensor x, AugmentationSample s)
            {
                var counts = BatchAugmenter.GroupSizes(s.First, s.Second);
                var once = BatchAugmenter.Apply(x, s.First, s.Levels.select(1, 0), s.Signs.select(1, 0), 0, counts[0]);
                return BatchAugmenter.Apply(once, s.Second, s.Levels.select(1, 1), s.Signs.select(1, 1), 0, counts[1]);
            }
            Tensor Selected(Tensor x, AugmentationSample s)
            {
                var once = BatchAugmenter.ApplyBySelection(x, s.First, s.Levels.select(1, 0), s.Signs.select(1, 0), 0);
                return BatchAugmenter.ApplyBySelection(once, s.Second, s.Levels.select(1, 1), s.Signs.select(1, 1), 0);
            }
            double Time(Func<Tensor, AugmentationSample, Tensor> path)
            {
                for (int i = 0; i < 5; i++) { using var warm = NewDisposeScope(); path(inputs[i % 4], samples[i % 4]); }
                BenchmarkDevice.Synchronize(device);
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) { using var scope = NewDisposeScope(); path(inputs[i % 4], samples[i % 4]); }
                BenchmarkDevice.Synchronize(device);
                return clock.Elapsed.TotalMilliseconds / calls;
            }
            double grouped = Time(Grouped), selected = Time(Selected);
            float largest = 0;
            for (int i = 0; i < 4; i++)
            {
                using var scope = NewDisposeScope();
                largest = Math.Max(largest, (Grouped(inputs[i], samples[i]) - Selected(inputs[i], samples[i])).abs().max().cpu().item<float>());
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{channels}x{size}x{size}, batch {b}: grouped {grouped,8:F2} ms, selection {selected,8:F2} ms (selection / grouped {selected / grouped:F2}); largest pixel difference {largest}"));
            foreach (var t in inputs) t.Dispose();
            foreach (var s in samples) { s.SubPolicies.Dispose(); s.First.Dispose(); s.Second.Dispose(); s.Levels.Dispose(); s.Signs.Dispose(); }
        }
    }
}
