using System.Diagnostics;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Native;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Foundation benchmark: decode-and-cache throughput of the 60,000 Fashion-MNIST training images from PNG files (as they
/// are and resized to 56x56) and from IDX, and mini-batch assembly time as a share of one training step of a small CNN
/// (target: under 5%).
/// </summary>
internal static class DataBenchmark
{
    public static void Run(string folder)
    {
        TorchRuntime.EnsureCpu();
        var ml = new MLContext(seed: 1);
        Console.WriteLine($"CPU threads: {Environment.ProcessorCount}, torch threads: {torch.get_num_threads()}");

        var pngFolder = Path.Combine(folder, "train-png");
        if (!Directory.Exists(pngFolder))
            throw new DirectoryNotFoundException($"{pngFolder} is missing: run samples/data/get-full-fashion-mnist.sh first.");

        var clock = Stopwatch.StartNew();
        var pngData = ImageFolderDataset.Load(ml, pngFolder);
        using (var png = ImageDataLoader.Load(pngData, new ImageDataOptions { ImageColumnName = "ImagePath" }))
            Report("PNG files (ImageSharp decode)", png.Count, clock.Elapsed.TotalSeconds);

        // Resizing goes through ML.NET's ResizeImages (ScoringChainResizer), so training sees the deployed model's pixels.
        clock.Restart();
        using (var resized = ImageDataLoader.Load(pngData, new ImageDataOptions { ImageColumnName = "ImagePath", Height = 56, Width = 56 }))
            Report("PNG files resized to 56x56", resized.Count, clock.Elapsed.TotalSeconds);

        clock.Restart();
        var idxData = DatasetTools.LoadFashionMnist(ml, folder, "train");
        using var cache = ImageDataLoader.Load(idxData, new ImageDataOptions());
        Report("IDX (gzip, pixel vectors)", cache.Count, clock.Elapsed.TotalSeconds);

        BatchShare(cache, 128);
        BatchShare(cache, 256);
    }

    private static void Report(string what, int count, double seconds)
        => Console.WriteLine($"decode+cache {what,-32} {count} images in {seconds:F2} s = {count / seconds:F0} images/s");

    private static void BatchShare(ImageTensorCache cache, int batchSize)
    {
        var rows = Enumerable.Range(0, cache.Count).ToArray();
        var stats = ChannelStatistics.Compute(cache.Images, rows);
        var sampler = new MiniBatchSampler(rows, batchSize, seed: 1, dropLast: true);
        using var assembler = new BatchAssembler(cache, CPU);
        torch.manual_seed(1);
        using var model = SmallCnn.Create();
        using var optimizer = optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        var batches = sampler.Epoch(0).Take(40).ToArray();
        double assembly = 0, step = 0;
        for (int i = 0; i < batches.Length; i++)
        {
            using var scope = NewDisposeScope();
            var t0 = Stopwatch.GetTimestamp();
            var (images, labels) = assembler.Gather(batches[i]);
            var x = stats.Normalize(images);
            var t1 = Stopwatch.GetTimestamp();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), labels);
            loss.backward();
            optimizer.step();
            _ = loss.item<float>();
            var t2 = Stopwatch.GetTimestamp();
            if (i < 5) continue; // warm-up
            assembly += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            step += Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
        }
        int n = batches.Length - 5;
        Console.WriteLine($"batch {batchSize}: assembly+normalize {assembly / n:F3} ms, CNN train step {step / n:F2} ms, assembly share {100 * assembly / (assembly + step):F2}% (35 batches)");
    }
}
