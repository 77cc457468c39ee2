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

    /// <summary>
    /// The same comparison on larger, 3-channel images (random pixels; the paper's data sets are 3x32x32 and larger):
    /// the per-image path's cost grows with the pixels, the batched path's fixed per-call cost does not.
    /// </summary>
    public static void RunSizes(int batch)
    {
        TorchRuntime.EnsureCpu();
        Console.WriteLine($"CPU threads: {Environment.ProcessorCount}, torch threads: {torch.get_num_threads()}; random images, batch {batch}; 196 sub-policies, uniform tau");
        var pixels = new Generator(1);
        int warmUp = 4; // the first size lets .NET's tiered JIT finish compiling the per-image code; later ones need one batch
        foreach (var (channels, size, batches) in new[] { (1, 28, 10), (3, 32, 10), (3, 64, 6), (3, 128, 3), (3, 224, 2) })
        {
            var shape = new long[] { batch, channels, size, size };
            Compare(() => randint(0, 256, shape, generator: pixels).to(ScalarType.Float32), batch, batches, warmUp, $"{channels}x{size}x{size}");
            warmUp = 1;
        }
    }

    private static void Compare(ImageTensorCache cache, int batch, int batches)
    {
        var sampler = new MiniBatchSampler(Enumerable.Range(0, cache.Count).ToArray(), batch, 1, dropLast: true);
        using var assembler = new BatchAssembler(cache, CPU);
        using var rows = sampler.Epoch(0).GetEnumerator();
        Compare(() => { rows.MoveNext(); return assembler.Gather(rows.Current).Images; }, batch, batches, warmUp: 4, "1x28x28 (shipped subset)");
    }

    /// <summary>Times both paths on the same batches of float images [B, C, H, W] holding 0..255.</summary>
    /// <param name="warmUp">Batches run first and not timed (lets .NET's tiered JIT finish compiling the per-image code).</param>
    private static void Compare(Func<Tensor> nextBatch, int batch, int batches, int warmUp, string label)
    {
        using var policy = new AugmentationPolicy(new AugmentationOptions(), CPU);
        var generator = new Generator(1);
        double batched = 0, perImage = 0;
        int maxDifference = 0;
        for (int index = 0; index < batches + warmUp; index++)
        {
            using var scope = NewDisposeScope();
            var images = nextBatch();
            int channels = (int)images.shape[1], height = (int)images.shape[2], width = (int)images.shape[3];
            var sample = policy.Sample(batch, generator);
            var levels = sample.Levels.data<float>().ToArray();
            var signs = sample.Signs.data<float>().ToArray();
            var first = sample.First.data<long>().ToArray().Select(o => (AugmentationOperation)o).ToArray();
            var second = sample.Second.data<long>().ToArray().Select(o => (AugmentationOperation)o).ToArray();
            var pixels = images.data<float>().ToArray();
            var inputs = Enumerable.Range(0, batch).Select(n => ToImage(pixels, n, channels, height, width)).ToArray();

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
            maxDifference = Math.Max(maxDifference, LargestDifference(augmented.data<float>().ToArray(), outputs, channels, height, width));
            foreach (var image in inputs.Concat(outputs)) image.Dispose();
            if (index < warmUp) continue;
            batched += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
            perImage += Stopwatch.GetElapsedTime(t1, t2).TotalSeconds;
        }
        int total = batch * batches;
        Console.WriteLine($"{label}, batch {batch}: batched tensor {total / batched,8:F0} images/s, per-image ImageSharp {total / perImage,7:F0} images/s, " +
            $"speed-up {perImage / batched:F1}x (largest pixel difference {maxDifference})");
    }

    private static Image<Rgb24> ToImage(float[] pixels, int n, int channels, int height, int width)
    {
        var image = new Image<Rgb24>(width, height);
        int plane = height * width, offset = n * channels * plane;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int p = offset + y * width + x;
                byte r = (byte)pixels[p], g = channels == 3 ? (byte)pixels[p + plane] : r, b = channels == 3 ? (byte)pixels[p + 2 * plane] : r;
                image[x, y] = new Rgb24(r, g, b);
            }
        return image;
    }

    private static int LargestDifference(float[] batched, Image<Rgb24>[] outputs, int channels, int height, int width)
    {
        int largest = 0, plane = height * width;
        for (int n = 0; n < outputs.Length; n++)
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        var pixel = outputs[n][x, y];
                        int reference = c == 0 ? pixel.R : c == 1 ? pixel.G : pixel.B;
                        largest = Math.Max(largest, Math.Abs(reference - (int)batched[(n * channels + c) * plane + y * width + x]));
                    }
        return largest;
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
