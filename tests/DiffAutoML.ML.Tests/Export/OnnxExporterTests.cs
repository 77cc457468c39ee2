using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Export;

public class OnnxExporterTests
{
    public OnnxExporterTests() => TorchRuntime.EnsureCpu();

    /// <summary>A child with random weights and batch-norm statistics gathered on the shipped test images.</summary>
    internal static (ChildNetwork Child, ChannelStatistics Stats, ImageTensorCache Images) TrainedChild(int[] path, int channels, int seed, int[]? stageStrides = null)
    {
        var ml = new MLContext(seed: 1);
        var folder = ImageFolderDataset.Load(ml, Path.Combine(TestPaths.Subset, "test-png"));
        var images = ImageDataLoader.Load(folder, new ImageDataOptions { ImageColumnName = "ImagePath", Channels = channels });
        var space = new SearchSpace(new SearchSpaceOptions
        {
            Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 2 }, StageChannels = new[] { 32, 64 },
            InputChannels = channels, Height = 28, Width = 28, StageStrides = stageStrides,
        });
        manual_seed(seed);
        var child = new ChildNetwork(space, path);
        using (no_grad())
            foreach (var (name, p) in child.named_parameters())
                if (name.Contains(".bn")) p.copy_(rand_like(p) + 0.5); // non-trivial scale and shift to fold
        var stats = ChannelStatistics.Compute(images.Images, Enumerable.Range(0, images.Count).ToArray());
        var all = Enumerable.Range(0, images.Count).Select(i => (long)i).ToArray();
        using var assembler = new BatchAssembler(images, CPU);
        BatchNormRecalibration.Recalibrate(child, all.Chunk(50).Select(rows => stats.Normalize(assembler.Gather(rows).Images)));
        return (child, stats, images);
    }

    internal static float[] OnnxRun(byte[] model, float[] pixels, int count, string output)
    {
        using var session = new InferenceSession(model);
        var input = new DenseTensor<float>(pixels, new[] { count, pixels.Length / count });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, input) });
        return results.First(r => r.Name == output).AsEnumerable<float>().ToArray();
    }

    [Theory]
    [InlineData(1, 0, 1, 2, 3)]
    [InlineData(1, 3, 2, 1, 0)]
    [InlineData(3, 0, 1, 2, 3)]
    [InlineData(3, 3, 2, 1, 0)]
    [InlineData(1, 2, 0, 3, 1, true)] // the first stage widens at stride 1 (StageStrides 1,2)
    [InlineData(3, 3, 1, 0, 2, true)]
    public void Onnx_runtime_output_equals_torchsharp_eval_output(int channels, int a, int b, int c, int d, bool firstStageAtStride1 = false)
    {
        var (child, stats, images) = TrainedChild(new[] { a, b, c, d }, channels, seed: a + 10 * channels, firstStageAtStride1 ? new[] { 1, 2 } : null);
        using (child)
        using (images)
        {
            var model = OnnxExporter.Export(child, stats);
            using var scope = NewDisposeScope();
            var pixels = images.Images.to(ScalarType.Float32);
            child.eval();
            float[] expected;
            using (no_grad()) expected = child.forward(stats.Normalize(pixels)).data<float>().ToArray();
            var actual = OnnxRun(model, pixels.data<float>().ToArray(), images.Count, OnnxExporter.LogitsName);
            Assert.Equal(expected.Length, actual.Length);
            double worst = expected.Zip(actual, (e, x) => Math.Abs(e - x) / Math.Max(1, Math.Abs(e))).Max();
            Assert.True(worst < 1e-4, $"largest difference {worst:G3}");
            var probabilities = OnnxRun(model, pixels.data<float>().ToArray(), images.Count, OnnxExporter.ProbabilitiesName);
            Assert.All(probabilities.Chunk(10), row => Assert.Equal(1.0, row.Sum(), 4));
        }
    }

    [Fact]
    public void The_standalone_model_names_its_classes_and_input_in_metadata_and_needs_only_the_default_domain()
    {
        var (child, stats, images) = TrainedChild(new[] { 0, 1, 2, 3 }, 1, seed: 2);
        using (child)
        using (images)
        {
            var classes = images.LabelMapping.ClassNames;
            var model = OnnxExporter.Export(child, stats, PixelLayout.Hwc, classNames: classes);
            using var session = new InferenceSession(model);
            var metadata = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal(classes, System.Text.Json.JsonSerializer.Deserialize<string[]>(metadata[OnnxExporter.ClassesKey]));
            Assert.Equal("1x28x28", metadata[OnnxExporter.InputShapeKey]);
            Assert.Equal("Hwc", metadata[OnnxExporter.InputLayoutKey]);
            Assert.Equal(child.Architecture, metadata[OnnxExporter.ArchitectureKey]);
            // The ML.NET chain's slot-name node (a LabelEncoder of the ai.onnx.ml domain) stays out of the standalone model.
            Assert.True(model.AsSpan().IndexOf("ai.onnx.ml"u8) < 0);
            var chain = OnnxExporter.Export(child, stats, PixelLayout.Hwc, "p", "l", "q", views: null, classes);
            Assert.True(chain.AsSpan().IndexOf("ai.onnx.ml"u8) >= 0);
            Assert.ThrowsAny<ArgumentException>(() => OnnxExporter.Export(child, stats, classNames: classes.Take(3).ToArray()));
        }
    }

    [Fact]
    public void Interleaved_pixel_layout_is_transposed_inside_the_graph()
    {
        var (child, stats, images) = TrainedChild(new[] { 0, 3, 1, 2 }, 3, seed: 5);
        using (child)
        using (images)
        {
            using var scope = NewDisposeScope();
            var chw = images.Images.narrow(0, 0, 7).to(ScalarType.Float32);
            var hwc = chw.permute(0, 2, 3, 1).contiguous();
            var fromChw = OnnxRun(OnnxExporter.Export(child, stats, PixelLayout.Chw), chw.data<float>().ToArray(), 7, OnnxExporter.LogitsName);
            var fromHwc = OnnxRun(OnnxExporter.Export(child, stats, PixelLayout.Hwc), hwc.data<float>().ToArray(), 7, OnnxExporter.LogitsName);
            Assert.Equal(fromChw, fromHwc);
        }
    }

    [Theory]
    [InlineData(1, PixelLayout.Chw, true, false)]
    [InlineData(3, PixelLayout.Hwc, true, false)]
    [InlineData(1, PixelLayout.Chw, false, true)]
    [InlineData(3, PixelLayout.Hwc, true, true)]
    public void Test_time_views_output_the_mean_of_the_softmax_outputs_over_the_views(int channels, PixelLayout layout, bool flip, bool shift)
    {
        var (child, stats, images) = TrainedChild(new[] { 1, 3, 0, 2 }, channels, seed: 11 + channels);
        using (child)
        using (images)
        {
            using var scope = NewDisposeScope();
            var chw = images.Images.narrow(0, 0, 9).to(ScalarType.Float32);
            var views = new TestTimeViews(flip, shift, FillValue: 20);
            child.eval();
            // Expected: each view built here on its own (a copy into a filled image, not the library's pad and narrow),
            // scored alone, and the softmax outputs averaged.
            var expectedViews = (shift ? new[] { (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1) } : new[] { (0, 0) })
                .Select(d => Shifted(chw, d.Item1, d.Item2, 20)).ToList();
            if (flip) expectedViews.AddRange(expectedViews.Select(v => v.flip(3)).ToArray());
            Assert.Equal(views.Count, expectedViews.Count);
            float[] expected;
            using (no_grad())
                expected = (expectedViews.Select(v => child.forward(stats.Normalize(v)).softmax(1)).Aggregate((a, b) => a + b) / expectedViews.Count).data<float>().ToArray();
            float[] fromLibrary;
            using (no_grad()) fromLibrary = views.Probabilities(child, chw, stats.Normalize).data<float>().ToArray();
            Assert.Equal(expected.Length, fromLibrary.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], fromLibrary[i], 1e-5);
            float[] Pixels(TorchSharp.torch.Tensor t) => (layout == PixelLayout.Chw ? t : t.permute(0, 2, 3, 1).contiguous()).data<float>().ToArray();
            var model = OnnxExporter.Export(child, stats, layout, views);

            var probabilities = OnnxRun(model, Pixels(chw), 9, OnnxExporter.ProbabilitiesName);
            Assert.Equal(expected.Length, probabilities.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], probabilities[i], 1e-5);
            var logits = OnnxRun(model, Pixels(chw), 9, OnnxExporter.LogitsName);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(Math.Log(expected[i]), logits[i], 1e-3);
            if (flip)
            {
                // The views of an image and of its mirror image are the same set, so both get the same scores.
                var ofMirrored = OnnxRun(model, Pixels(chw.flip(3)), 9, OnnxExporter.ProbabilitiesName);
                for (int i = 0; i < expected.Length; i++) Assert.Equal(probabilities[i], ofMirrored[i], 1e-5);
            }
            var plain = OnnxRun(OnnxExporter.Export(child, stats, layout), Pixels(chw), 9, OnnxExporter.ProbabilitiesName);
            Assert.True(plain.Zip(probabilities, (a, b) => Math.Abs(a - b)).Max() > 1e-3);
        }
    }

    /// <summary>Output pixel (x, y) shows input pixel (x + dx, y + dy); <paramref name="fill"/> where that is outside.</summary>
    internal static TorchSharp.torch.Tensor Shifted(TorchSharp.torch.Tensor images, int dx, int dy, float fill)
    {
        long h = images.shape[2], w = images.shape[3];
        var result = full_like(images, fill);
        long rows = h - Math.Abs(dy), columns = w - Math.Abs(dx);
        result.narrow(2, Math.Max(0, -dy), rows).narrow(3, Math.Max(0, -dx), columns)
            .copy_(images.narrow(2, Math.Max(0, dy), rows).narrow(3, Math.Max(0, dx), columns));
        return result;
    }
}
