// The README's main job: load the Fashion-MNIST subset shipped in samples/data through DiffAutoML.ML's
// ML.NET adapters and report what was loaded. (The joint DA/NAS/HPO search arrives with the estimator.)
using System.Diagnostics;
using DiffAutoML.ML.Data;
using Microsoft.ML;

var dataFolder = args.Length > 0 ? args[0] : FindSubset();
var mlContext = new MLContext(seed: 1);
var clock = Stopwatch.StartNew();

IDataView train = IdxDataset.Load(mlContext,
    Path.Combine(dataFolder, "train-images-idx3-ubyte.gz"), Path.Combine(dataFolder, "train-labels-idx1-ubyte.gz"),
    IdxDataset.FashionMnistClassNames);
IDataView test = IdxDataset.Load(mlContext,
    Path.Combine(dataFolder, "t10k-images-idx3-ubyte.gz"), Path.Combine(dataFolder, "t10k-labels-idx1-ubyte.gz"),
    IdxDataset.FashionMnistClassNames);

var options = new ImageDataOptions { ImageColumnName = "Image", LabelColumnName = "Label" };
using var trainCache = ImageDataLoader.Load(train, options);
using var testCache = ImageDataLoader.Load(test, options, trainCache.LabelMapping);
var (trainRows, validationRows) = StratifiedSplit.Split(trainCache.Labels, trainCache.LabelMapping.ClassCount, 0.1, seed: 1);
var stats = ChannelStatistics.Compute(trainCache.Images, trainRows);

Console.WriteLine($"Loaded {trainCache.Count} training and {testCache.Count} test images from {dataFolder} in {clock.ElapsedMilliseconds} ms");
Console.WriteLine($"Tensor cache: {trainCache.Count} x {trainCache.Channels} x {trainCache.Height} x {trainCache.Width} uint8 = {trainCache.SizeInBytes / 1024} KiB");
Console.WriteLine($"Split (10% held out, stratified, seed 1): {trainRows.Length} train, {validationRows.Length} validation");
Console.WriteLine($"Channel mean {stats.Mean[0]:F4}, std {stats.Std[0]:F4} (0..1 scale, training part)");
Console.WriteLine("Classes (index: name, training images, test images):");
for (int c = 0; c < trainCache.LabelMapping.ClassCount; c++)
    Console.WriteLine($"  {c}: {trainCache.LabelMapping.ClassNames[c],-12} {trainCache.ClassCounts[c],5} {testCache.ClassCounts[c],5}");

var sampler = new MiniBatchSampler(trainRows, batchSize: 128, seed: 1, dropLast: true);
using var assembler = new BatchAssembler(trainCache, TorchSharp.torch.CPU);
using (TorchSharp.torch.NewDisposeScope())
{
    var (images, labels) = assembler.Gather(sampler.Epoch(0).First());
    var normalized = stats.Normalize(images);
    Console.WriteLine($"First mini-batch: images {string.Join("x", images.shape)} float32, labels {string.Join("x", labels.shape)}; " +
        $"normalized mean {normalized.mean().item<float>():F3}, std {normalized.std().item<float>():F3}; {sampler.BatchesPerEpoch} batches per epoch");
}

static string FindSubset()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "samples", "data", "fashion-mnist-subset");
        if (Directory.Exists(candidate)) return candidate;
    }
    throw new DirectoryNotFoundException("samples/data/fashion-mnist-subset not found; pass the data folder as the first argument.");
}
