using System.Globalization;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Search;
using Microsoft.ML;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// What each part of the GPU's best Fashion-MNIST row costs in the library's own training loop: short Fits of the fixed
/// all-k3 network (stage strides 1,2,2,2, weight decay tuned, crop, flip and Cutout: docs/gpu.md, "Status") with one
/// part changed at a time: the weight-decay hypergradient every 10 steps instead of every step, no hypergradient, no
/// hypergradient and no augmentation (plain training), and, on CUDA, bfloat16 mixed precision and cuDNN's benchmark mode. Each reads the training
/// images per second of the epochs after the first (the first holds the start-up and cuDNN's algorithm timing; the
/// epochs' validation pass is not in the figure). The images are random 1x28x28 bytes with random labels: the step's
/// cost does not depend on what the pixels show, and the data need not be carried to the GPU machine.
/// </summary>
internal static class RowCostBenchmark
{
    public static void Run(string device, double width, int batch, int images, int epochs)
    {
        if (epochs < 2) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "needs at least 2 epochs: the first is left out");
        var ml = new MLContext(seed: 1);
        var data = RandomImages(ml, images);
        var variants = new List<(string Name, Action<DiffAutoMLOptions> Change)>
        {
            ("row: weight decay tuned every step, crop + flip + Cutout", _ => { }),
            ("row, weight decay tuned every 10 steps", o => o.HyperParameters = o.HyperParameters with { UpdateEvery = 10 }),
            ("row without the hypergradient", o => o.Components = DiffAutoMLComponents.None),
            ("plain: no hypergradient, no augmentation", o =>
            {
                o.Components = DiffAutoMLComponents.None;
                o.Augmentation = o.Augmentation with { RandomCropPadding = 0, RandomFlip = false, CutoutSize = 0 };
            }),
        };
        // Both only mean something on CUDA (Fit trains in float32 on the CPU whatever Precision says); the cuDNN mode
        // last, since it is process-wide while a Fit runs (put back after it).
        if (device == "cuda") variants.Add(("row in bfloat16 (mixed precision)", o => o.Precision = TrainingPrecision.BFloat16));
        if (device == "cuda") variants.Add(("row, cuDNN benchmark mode on", o => o.CudnnBenchmark = true));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"row costs on {device}: all-k3, stage strides 1,2,2,2, width {width}, batch {batch}, {images} random 1x28x28 images (90% trained on), {epochs} epochs, the first left out; {Environment.ProcessorCount} CPU threads"));
        double? rowRate = null;
        foreach (var (name, change) in variants)
        {
            var options = RowOptions(device, width, batch, epochs);
            change(options);
            var report = ml.Auto().DiffAutoML(options).Fit(data).Report;
            double rate = report.History.Skip(1).Average(e => e.ImagesPerSecond);
            rowRate ??= rate;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-58} {rate,8:F0} images/s  {batch * 1000 / rate,7:F1} ms per step  {rowRate.Value / rate,5:F2}x the row's step time  (Fit {report.TotalSeconds:F1} s; {report.Options["Precision"]}; cuDNN mode {report.Options["CudnnBenchmark"]})"));
        }
    }

    private static DiffAutoMLOptions RowOptions(string device, double width, int batch, int epochs)
    {
        var options = new DiffAutoMLOptions
        {
            Epochs = epochs,
            Components = DiffAutoMLComponents.HyperParameters,
            BatchSize = batch,
            Seed = 1,
            ProgressEverySteps = 1_000_000,
            Device = device == "cuda" ? ComputeDevice.Cuda : ComputeDevice.Cpu,
        };
        var space = options.SearchSpace with { StageStrides = new[] { 1, 2, 2, 2 } };
        options.SearchSpace = width == 1 ? space : space.Widened(width);
        options.HyperParameters = options.HyperParameters with { LearningRate = 0.2 };
        options.Augmentation = options.Augmentation with { RandomCropPadding = 2, RandomFlip = true, CutoutSize = 8 };
        return options;
    }

    private static IDataView RandomImages(MLContext ml, int count)
    {
        var random = new Random(1);
        var pixels = new byte[count * 28 * 28];
        random.NextBytes(pixels);
        var labels = Enumerable.Range(0, count).Select(_ => (byte)random.Next(10)).ToArray();
        return Data.IdxDataset.ToDataView(ml, new Data.IdxDataset.Content(pixels, labels, count, 28, 28), null, "random images");
    }
}
