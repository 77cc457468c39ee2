using System.Diagnostics;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Scoring throughput of the same child network through the ML.NET chain Fit returns, through ONNX Runtime directly,
/// and through TorchSharp's eval forward (targets: ONNX Runtime at least as fast as TorchSharp on the CPU; the
/// pipeline within 1.25x of ONNX Runtime directly).
/// </summary>
internal static class ScoringBenchmark
{
    private sealed class PixelRow
    {
        [VectorType(1, 28, 28)]
        public byte[] Image { get; set; } = Array.Empty<byte>();
        public string Label { get; set; } = "";
    }

    public static void Run(string subset)
    {
        TorchRuntime.EnsureCpu();
        var ml = new MLContext(seed: 1);
        var data = DatasetTools.LoadFashionMnist(ml, subset, "t10k");
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        var stats = ChannelStatistics.Compute(cache.Images, Enumerable.Range(0, cache.Count).ToArray());
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        manual_seed(1);
        using var child = new ChildNetwork(space, Enumerable.Range(0, space.Layers.Count).Select(l => l % 4).ToArray());
        child.eval();
        var pixels = cache.Images.to(ScalarType.Float32).data<float>().ToArray();
        int n = cache.Count, size = 784;
        Console.WriteLine($"scoring {n} Fashion-MNIST test images with the Compact child ({child.Architecture}, {child.MultiplyAdds / 1e6:F2} MFLOPs), CPU threads {Environment.ProcessorCount}");

        var onnx = OnnxExporter.Export(child, stats);
        using var session = new InferenceSession(onnx);
        foreach (int batch in new[] { 1, 64 })
        {
            double torchSeconds = Time(() =>
            {
                using var noGrad = no_grad();
                for (int start = 0; start < n; start += batch)
                {
                    using var scope = NewDisposeScope();
                    int count = Math.Min(batch, n - start);
                    var x = tensor(pixels.AsSpan(start * size, count * size).ToArray(), new long[] { count, 1, 28, 28 });
                    _ = child.forward(stats.Normalize(x)).softmax(1).data<float>().ToArray();
                }
            });
            double onnxSeconds = Time(() =>
            {
                for (int start = 0; start < n; start += batch)
                {
                    int count = Math.Min(batch, n - start);
                    var input = new DenseTensor<float>(pixels.AsMemory(start * size, count * size), new[] { count, size });
                    using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, input) });
                    _ = results.First(r => r.Name == OnnxExporter.ProbabilitiesName).AsEnumerable<float>().ToArray();
                }
            });
            Console.WriteLine($"  batch {batch,3}: TorchSharp eval {n / torchSeconds,8:F0} images/s   ONNX Runtime {n / onnxSeconds,8:F0} images/s   ratio {torchSeconds / onnxSeconds:F2}x");
        }

        var input0 = new ScoringInput("Image", ImageColumnKind.PixelVector, null, 1, 28, 28, PixelLayout.Chw, PixelsAreBytes: true);
        var chainOnnx = OnnxExporter.Export(child, stats, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn, views: null);
        var chain = ScoringChainBuilder.Build(ml, input0, chainOnnx, cache.LabelMapping).Fit(data);
        double pipelineSeconds = Time(() => _ = chain.Transform(data).GetColumn<VBuffer<float>>("Score").Count());
        var engine = ml.Model.CreatePredictionEngine<PixelRow, ScoreRow>(chain);
        var rows = ml.Data.CreateEnumerable<PixelRow>(data, reuseRowObject: false).ToArray();
        double engineSeconds = Time(() => { foreach (var row in rows) _ = engine.Predict(row); });
        double onnxSingle = Time(() =>
        {
            for (int i = 0; i < n; i++)
            {
                var input = new DenseTensor<float>(pixels.AsMemory(i * size, size), new[] { 1, size });
                using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, input) });
                _ = results.First(r => r.Name == OnnxExporter.ProbabilitiesName).AsEnumerable<float>().ToArray();
            }
        });
        Console.WriteLine($"  ML.NET Transform (rows one by one): {n / pipelineSeconds,8:F0} images/s   ({pipelineSeconds / onnxSingle:F2}x the time of ONNX Runtime at batch 1)");
        Console.WriteLine($"  ML.NET PredictionEngine:            {n / engineSeconds,8:F0} images/s   ({engineSeconds / onnxSingle:F2}x)");
        ComparePathChains(ml, Path.Combine(subset, "test-png"), chainOnnx, cache.LabelMapping);
        CompareFloatPixelChain(ml, data, ScoringChainBuilder.Build(ml, input0, chainOnnx, cache.LabelMapping), child, stats, cache.LabelMapping, n);
    }

    /// <summary>The chain for float pixel vectors, whose values are checked row by row (DiffAutoML.ML.Scoring's
    /// CheckPixelsMapping), against the chain for the same pixels as bytes, which needs no check; alternating, three rounds.</summary>
    private static void CompareFloatPixelChain(MLContext ml, IDataView bytes, IEstimator<ITransformer> bytesChain, ChildNetwork child, ChannelStatistics stats, LabelMapping labels, int n)
    {
        // Both inputs cached first: the conversion is not the chains' work.
        var floats = ml.Data.Cache(ml.Transforms.Conversion.ConvertType("Image", "Image", DataKind.Single).Fit(bytes).Transform(bytes));
        bytes = ml.Data.Cache(bytes);
        var input = new ScoringInput("Image", ImageColumnKind.PixelVector, null, 1, 28, 28, PixelLayout.Chw, PixelsAreBytes: false);
        var onnx = OnnxExporter.Export(child, stats, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn,
            views: null, anyInputLength: ScoringChainBuilder.ChecksPixelValues(input));
        var checkedChain = ScoringChainBuilder.Build(ml, input, onnx, labels).Fit(floats);
        var plainChain = bytesChain.Fit(bytes);
        const int passes = 3;
        for (int round = 1; round <= 3; round++)
        {
            double checkedSeconds = Time(() => { for (int p = 0; p < passes; p++) _ = checkedChain.Transform(floats).GetColumn<VBuffer<float>>("Score").Count(); }) / passes;
            double plainSeconds = Time(() => { for (int p = 0; p < passes; p++) _ = plainChain.Transform(bytes).GetColumn<VBuffer<float>>("Score").Count(); }) / passes;
            Console.WriteLine($"  round {round}: float pixel vectors, values checked {n / checkedSeconds,8:F0} images/s   bytes, no check {n / plainSeconds,8:F0} images/s   ratio {checkedSeconds / plainSeconds:F2}x");
        }
    }

    /// <summary>The chain for a column of file paths (DiffAutoML.ML.Scoring's file loading, which names bad files) against
    /// ML.NET's LoadImages in front of the same resize, pixels and ONNX model (the chain of models saved before
    /// 2026-12-01), alternating, three rounds.</summary>
    private static void ComparePathChains(MLContext ml, string folder, byte[] chainOnnx, LabelMapping labels)
    {
        var files = ImageFolderDataset.Load(ml, folder);
        int n = files.GetColumn<string>("ImagePath").Count();
        var input = new ScoringInput("ImagePath", ImageColumnKind.Path, null, 1, 28, 28, PixelLayout.Chw, false);
        var ours = ScoringChainBuilder.Build(ml, input, chainOnnx, labels).Fit(files);
        var loadImages = ml.Transforms.LoadImages(ScoringChainBuilder.ImageColumn, null, "ImagePath")
            .Append(ScoringChainBuilder.ImageToPixels(ml, ScoringChainBuilder.ImageColumn, input))
            .Append(new MLContext().Transforms.ApplyOnnxModel(new[] { ScoringChainBuilder.ProbabilitiesColumn }, new[] { ScoringChainBuilder.PixelsColumn }, new MemoryStream(chainOnnx)))
            .Fit(files);
        var a = ours.Transform(files).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        var b = loadImages.Transform(files).GetColumn<VBuffer<float>>(ScoringChainBuilder.ProbabilitiesColumn).SelectMany(v => v.DenseValues()).ToArray();
        Console.WriteLine($"  {n} PNG files: the two chains' scores differ by at most {a.Zip(b, (x, y) => Math.Abs(x - y)).Max():G3}");
        const int passes = 10; // 200 files take about 30 ms: one pass is too short to time
        for (int round = 1; round <= 3; round++)
        {
            double oursSeconds = Time(() => { for (int p = 0; p < passes; p++) _ = ours.Transform(files).GetColumn<VBuffer<float>>("Score").Count(); }) / passes;
            double theirsSeconds = Time(() => { for (int p = 0; p < passes; p++) _ = loadImages.Transform(files).GetColumn<VBuffer<float>>(ScoringChainBuilder.ProbabilitiesColumn).Count(); }) / passes;
            Console.WriteLine($"  round {round}: file loading with named errors {n / oursSeconds,8:F0} images/s   ML.NET LoadImages {n / theirsSeconds,8:F0} images/s   ratio {oursSeconds / theirsSeconds:F2}x");
        }
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public string PredictedLabel { get; set; } = "";
    }

    private static double Time(Action action)
    {
        action(); // warm-up
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }
}
