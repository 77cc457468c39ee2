using System.Diagnostics;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Memory while the scoring chain reads large image files: how far the process's working set rises above its level
/// before each chain, for ML.NET's LoadImages (which disposes each image itself) and the chains Fit returns for paths,
/// encoded bytes and MLImage columns, side by side in one run. An image the chain leaves undisposed holds native pixel
/// memory that the garbage collector does not count, so without disposal the rise grows with the number of rows.
/// </summary>
internal static class ScoringMemoryBenchmark
{
    public static void Run(int rows, int side)
    {
        TorchRuntime.EnsureCpu();
        var ml = new MLContext(seed: 1);
        var folder = Directory.CreateTempSubdirectory("diffautoml-scoring-memory").FullName;
        try
        {
            const int files = 10;
            var pixels = new byte[side * side * 4];
            for (int f = 0; f < files; f++)
            {
                // Smooth gradients: small files that decode to full-size bitmaps, as photos in JPEG do. (Noise makes the
                // files as large as the bitmaps, and reading them makes the garbage collector run often enough to
                // finalize what a chain leaves undisposed.)
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++)
                    {
                        int k = 4 * (y * side + x);
                        (pixels[k], pixels[k + 1], pixels[k + 2], pixels[k + 3]) = ((byte)(x * 255 / side), (byte)(y * 255 / side), (byte)((x + y + 25 * f) & 255), 255);
                    }
                using var image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Bgra32, pixels);
                image.Save(Path.Combine(folder, $"{f}.png"));
            }
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => new PathRow { ImagePath = Path.Combine(folder, $"{i % files}.png") }));

            var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
            manual_seed(1);
            using var child = new ChildNetwork(space, new int[space.Layers.Count]);
            child.eval();
            var statistics = new ChannelStatistics(new[] { 0.5f }, new[] { 0.25f });
            var chainOnnx = OnnxExporter.Export(child, statistics, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn, views: null);
            var labels = LabelMapping.FromValues(LabelKind.Text, TextDataViewType.Instance, Enumerable.Range(0, 10).Select(c => $"class {c}"));
            Console.WriteLine($"{rows} rows of {side}x{side} PNG files ({new FileInfo(Path.Combine(folder, "0.png")).Length >> 10} KiB each, {files} files in turn), scored at 28x28 grey; " +
                $"{Environment.ProcessorCount} CPU threads");

            var pathInput = new ScoringInput("ImagePath", ImageColumnKind.Path, null, 1, 28, 28, PixelLayout.Chw, false);
            var loadImages = ml.Transforms.LoadImages(ScoringChainBuilder.ImageColumn, null, "ImagePath")
                .Append(ScoringChainBuilder.ImageToPixels(ml, ScoringChainBuilder.ImageColumn, pathInput))
                .Append(ml.Transforms.ApplyOnnxModel(new[] { ScoringChainBuilder.ProbabilitiesColumn }, new[] { ScoringChainBuilder.PixelsColumn }, new MemoryStream(chainOnnx)))
                .Fit(data);
            Measure("ML.NET LoadImages, resize, pixels, ONNX", rows, () => loadImages.Transform(data).GetColumn<VBuffer<float>>(ScoringChainBuilder.ProbabilitiesColumn).Count());

            var pathChain = ScoringChainBuilder.Build(ml, pathInput, chainOnnx, labels).Fit(data);
            Measure("the chain for a path column", rows, () => pathChain.Transform(data).GetColumn<VBuffer<float>>("Score").Count());

            var bytes = ml.Transforms.LoadRawImageBytes("Bytes", null, "ImagePath").Fit(data).Transform(data);
            var bytesChain = ScoringChainBuilder.Build(ml, pathInput with { ColumnName = "Bytes", Kind = ImageColumnKind.EncodedBytes }, chainOnnx, labels).Fit(bytes);
            Measure("the chain for an encoded-bytes column", rows, () => bytesChain.Transform(bytes).GetColumn<VBuffer<float>>("Score").Count());

            var images = ml.Transforms.LoadImages("Picture", null, "ImagePath").Fit(data).Transform(data);
            var imageChain = ScoringChainBuilder.Build(ml, pathInput with { ColumnName = "Picture", Kind = ImageColumnKind.MLImage }, chainOnnx, labels, images.Schema["Picture"].Type).Fit(images);
            Measure("LoadImages, then the chain for an MLImage column", rows, () => imageChain.Transform(images).GetColumn<VBuffer<float>>("Score").Count());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Measure(string name, int rows, Func<int> score)
    {
        // Collected first, so that each chain starts from what the ones before it left.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        long before = process.WorkingSet64, peak = before;
        int collections = GC.CollectionCount(0);
        using var done = new ManualResetEventSlim();
        var sampler = new Thread(() =>
        {
            using var self = Process.GetCurrentProcess();
            do
            {
                self.Refresh();
                peak = Math.Max(peak, self.WorkingSet64);
            } while (!done.Wait(20));
        });
        sampler.Start();
        var clock = Stopwatch.StartNew();
        int scored = score();
        clock.Stop();
        done.Set();
        sampler.Join();
        if (scored != rows) throw new InvalidOperationException($"{name}: {scored} rows scored, expected {rows}.");
        Console.WriteLine($"  {name,-50} working set +{(peak - before) >> 20,6} MiB at most   {rows / clock.Elapsed.TotalSeconds,6:F1} images/s   gen-0 collections {GC.CollectionCount(0) - collections}");
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
