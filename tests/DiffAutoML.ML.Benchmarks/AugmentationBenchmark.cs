using System.Diagnostics;
using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Reference;
using Microsoft.ML;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Augmentation benchmark: the batched tensor augmentation against the per-image ImageSharp path on the same batches
/// (target: at least 20x), and augmentation time as a share of one training step (target: at most 10%).
/// </summary>
internal static class AugmentationBenchmark
{
    public static void Run(string subsetFolder)
    {
        TorchRuntime.EnsureCpu();
        var ml = new MLContext(seed: 1);
        var data = IdxDataset.Load(ml, Path.Combine(subsetFolder, "train-images-idx3-ubyte.gz"), Path.Combine(subsetFolder, "train-labels-idx1-ubyte.gz"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        Console.WriteLine($"CPU threads: {Environment.ProcessorCount}, torch threads: {torch.get_num_threads()}; images 1x28x28 from the shipped subset; 196 sub-policies, uniform tau");
        foreach (int batch in new[] { 128, 256 }) Compare(cache, batch, batches: 10);
        StepShare(cache, 256);
    }

    private static void Compare(ImageTensorCache cache, int batch, int batches)
    {
        using var policy = new AugmentationPolicy(new AugmentationOptions(), CPU);
        var generator = new Generator(1);
        var sampler = new MiniBatchSampler(Enumerable.Range(0, cache.Count).ToArray(), batch, 1, dropLast: true);
        using var assembler = new BatchAssembler(cache, CPU);
        double batched = 0, perImage = 0;
        int maxDifference = 0;
        const int warmUp = 4; // lets .NET's tiered JIT finish compiling the per-image code before it is timed
        foreach (var (rows, index) in sampler.Epoch(0).Take(batches + warmUp).Select((r, i) => (r, i)))
        {
            using var scope = NewDisposeScope();
            var (images, _) = assembler.Gather(rows);
            var sample = policy.Sample(batch, generator);
            var levels = sample.Levels.data<float>().ToArray();
            var signs = sample.Signs.data<float>().ToArray();
            var first = sample.First.data<long>().ToArray().Select(o => (AugmentationOperation)o).ToArray();
            var second = sample.Second.data<long>().ToArray().Select(o => (AugmentationOperation)o).ToArray();
            var pixels = images.data<float>().ToArray();
            var inputs = Enumerable.Range(0, batch).Select(n => ToImage(pixels, n)).ToArray();

            var t0 = Stopwatch.GetTimestamp();
            var augmented = policy.Augment(images, sample);
            var t1 = Stopwatch.GetTimestamp();
            var outputs = new Image<Rgb24>[batch];
            for (int n = 0; n < batch; n++)
            {
                using var once = PerImageAugmentation.Apply(inputs[n], first[n], levels[2 * n], (int)signs[2 * n]);
                outputs[n] = PerImageAugmentation.Apply(once, second[n], levels[2 * n + 1], (int)signs[2 * n + 1]);
            }
            var t2 = Stopwatch.GetTimestamp();
            var result = augmented.data<float>().ToArray();
            for (int n = 0; n < batch; n++)
                for (int p = 0; p < 784; p++)
                    maxDifference = Math.Max(maxDifference, Math.Abs(outputs[n][p % 28, p / 28].R - (int)result[n * 784 + p]));
            foreach (var image in inputs.Concat(outputs)) image.Dispose();
            if (index < warmUp) continue;
            batched += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
            perImage += Stopwatch.GetElapsedTime(t1, t2).TotalSeconds;
        }
        int total = batch * batches;
        Console.WriteLine($"batch {batch}: batched tensor {total / batched,8:F0} images/s, per-image ImageSharp {total / perImage,7:F0} images/s, " +
            $"speed-up {perImage / batched:F1}x (largest pixel difference {maxDifference})");
    }

    private static Image<Rgb24> ToImage(float[] pixels, int n)
    {
        var image = new Image<Rgb24>(28, 28);
        for (int p = 0; p < 784; p++) { var v = (byte)pixels[n * 784 + p]; image[p % 28, p / 28] = new Rgb24(v, v, v); }
        return image;
    }

    private static void StepShare(ImageTensorCache cache, int batch)
    {
        var rows = Enumerable.Range(0, cache.Count).ToArray();
        var stats = ChannelStatistics.Compute(cache.Images, rows);
        var sampler = new MiniBatchSampler(rows, batch, 1, dropLast: true);
        using var assembler = new BatchAssembler(cache, CPU);
        using var policy = new AugmentationPolicy(new AugmentationOptions(), CPU);
        var generator = new Generator(1);
        torch.manual_seed(1);
        using var model = SmallCnn.Create();
        using var optimizer = optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        double augment = 0, rest = 0;
        var batches = sampler.Epoch(0).Take(15).ToArray();
        for (int i = 0; i < batches.Length; i++)
        {
            using var scope = NewDisposeScope();
            var t0 = Stopwatch.GetTimestamp();
            var (images, labels) = assembler.Gather(batches[i]);
            var t1 = Stopwatch.GetTimestamp();
            var sample = policy.Sample(batch, generator);
            var augmented = policy.Augment(images, sample);
            var t2 = Stopwatch.GetTimestamp();
            optimizer.zero_grad();
            var perSample = nn.functional.cross_entropy(model.forward(stats.Normalize(augmented)), labels, reduction: nn.Reduction.None);
            perSample.mean().backward();
            optimizer.step();
            policy.Step(perSample, sample);
            _ = perSample.mean().item<float>();
            var t3 = Stopwatch.GetTimestamp();
            if (i < 3) continue;
            augment += Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
            rest += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds + Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
        }
        int n = batches.Length - 3;
        Console.WriteLine($"training step, batch {batch} (small CNN + tau update): sample+augment {augment / n:F2} ms of {(augment + rest) / n:F2} ms = {100 * augment / (augment + rest):F1}% of the step");
    }
}
