using System.Diagnostics;
using System.Globalization;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Tests.Export;
using DiffAutoML.ML.Tests.Packaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Tests.Api;

/// <summary>Tests that need a second process: scoring without TorchSharp, and resuming after kill -9.</summary>
[Collection(HeavyTestsCollection.Name)]
public class SeparateProcessTests
{
    /// <summary>The build output of a sample project, brought up to date first (dotnet test builds only test projects).</summary>
    private static string SampleDll(string project)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "samples", project);
        var dll = Path.Combine(folder, "bin", "Debug", "net10.0", project + ".dll");
        if (ProcessRunner.SdkAvailable())
        {
            var build = ProcessRunner.Run("dotnet", $"build \"{folder}\" -c Debug", TestPaths.RepoRoot, TimeSpan.FromMinutes(8));
            Assert.True(build.ExitCode == 0, build.Output);
        }
        Assert.SkipUnless(File.Exists(dll), $"{project} is not built and there is no .NET SDK to build it");
        return dll;
    }

    [Fact]
    public void A_saved_model_scores_identically_in_a_process_without_torchsharp()
    {
        var dll = SampleDll("ScoreSavedModel");
        var binFolder = Path.GetDirectoryName(dll)!;
        Assert.False(File.Exists(Path.Combine(binFolder, "TorchSharp.dll")), "the scoring sample must not ship TorchSharp");
        Assert.False(File.Exists(Path.Combine(binFolder, "DiffAutoML.ML.dll")), "the scoring sample must not ship the training library");

        var ml = new MLContext(seed: 1);
        var folder = Path.Combine(TestPaths.Subset, "test-png");
        var data = ImageFolderDataset.Load(ml, folder);
        var options = FitEndToEndTests.Small(epochs: 2);
        options.Data.ImageColumnName = "ImagePath";
        options.ValidationFraction = 0.2;
        using var model = ml.Auto().DiffAutoML(options).Fit(data);
        var work = TempFolders.Create("diffautoml-process").FullName;
        var modelPath = Path.Combine(work, "model.zip");
        ml.Model.Save(model, data.Schema, modelPath);

        var output = Path.Combine(work, "predictions.tsv");
        var run = ProcessRunner.Run("dotnet", $"\"{dll}\" \"{modelPath}\" \"{folder}\" \"{output}\"", work, TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, run.Output);
        var lines = File.ReadAllLines(output);

        var scored = model.Transform(data);
        var labels = scored.GetColumn<string>("PredictedLabel").ToArray();
        var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(labels.Length, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            var fields = lines[i].Split('\t');
            Assert.Equal(labels[i], fields[1]);
            var other = fields[2].Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            for (int c = 0; c < other.Length; c++) Assert.Equal(scores[i][c], other[c], 1e-5);
            // The sample names classes by the loaded model's Score slot names: the same order as the model's classes.
            Assert.Equal(6, fields.Length);
            foreach (var t in fields[3..])
            {
                int cut = t.LastIndexOf('=');
                int c = model.Labels.ClassNames.ToList().IndexOf(t[..cut]);
                Assert.True(c >= 0, t);
                Assert.Equal(scores[i][c], double.Parse(t[(cut + 1)..], CultureInfo.InvariantCulture), 1e-4); // written with 4 decimals
            }
            Assert.StartsWith(labels[i] + "=", fields[3]);
        }

        // The standalone ONNX file, scored by ONNX Runtime and ImageSharp alone (samples/ScoreOnnx, which takes the
        // classes and the input shape from the file's metadata), gives the chain's probabilities and labels.
        var onnxDll = SampleDll("ScoreOnnx");
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(onnxDll)!, "Microsoft.ML.Data.dll")), "the ONNX sample must not ship ML.NET");
        var onnxPath = Path.Combine(work, "model.onnx");
        model.SaveOnnx(onnxPath);
        var broken = Path.Combine(work, "broken.png");
        File.WriteAllText(broken, "not an image");
        var onnxRun = ProcessRunner.Run("dotnet", $"\"{onnxDll}\" \"{onnxPath}\" \"{folder}\" \"{broken}\"", work, TimeSpan.FromMinutes(5));
        Assert.True(onnxRun.ExitCode == 1, onnxRun.Output); // the broken file is named, the others are scored
        Assert.Contains("broken.png: ", onnxRun.Output);
        var byPath = OnnxSampleLines(onnxRun.Output);
        var paths = scored.GetColumn<string>("ImagePath").ToArray();
        Assert.Equal(paths.Length, byPath.Count);
        for (int i = 0; i < paths.Length; i++)
        {
            var fields = byPath[Path.GetFullPath(paths[i])];
            Assert.Equal(labels[i], fields[1]);
            var probabilities = fields[3].Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(scores[i].Length, probabilities.Length);
            for (int c = 0; c < probabilities.Length; c++) Assert.Equal(scores[i][c], probabilities[c], 1e-5);
        }

        // Colour noise of other sizes, the hardest case: stretched by the nearest pixel and turned grey as the chain does,
        // up to one grey level where the exact value lies halfway between two (120 opaque ones measured within 6.4e-4).
        OnnxSampleMatchesTheChain(onnxDll, onnxPath, model, ColourNoise(Path.Combine(work, "colour"), seed: 7, transparent: true), work, tolerance: 2e-3);
    }

    [Fact]
    public void The_onnx_sample_gives_a_colour_model_the_chains_pixels()
    {
        var onnxDll = SampleDll("ScoreOnnx");
        var (child, statistics, images) = OnnxExporterTests.TrainedChild(new[] { 0, 1, 2, 3 }, channels: 3, seed: 9);
        using (child)
        using (images)
        {
            var ml = new MLContext(seed: 1);
            var work = TempFolders.Create("diffautoml-onnx-colour").FullName;
            var files = ColourNoise(Path.Combine(work, "colour"), seed: 8, transparent: true);
            var input = new ScoringInput("ImagePath", ImageColumnKind.Path, null, 3, 28, 28, PixelLayout.Chw, false);
            var chainOnnx = OnnxExporter.Export(child, statistics, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn,
                ScoringChainBuilder.ProbabilitiesColumn, views: null, images.LabelMapping.ClassNames, anyInputLength: ScoringChainBuilder.ChecksPixelValues(input));
            var data = ml.Data.LoadFromEnumerable(Directory.GetFiles(files).Select(f => new PathAndLabel { ImagePath = f }));
            using var chain = ScoringChainBuilder.Fit(ml, input, chainOnnx, images.LabelMapping, null, data);
            var onnxPath = Path.Combine(work, "model.onnx");
            File.WriteAllBytes(onnxPath, OnnxExporter.Export(child, statistics, classNames: images.LabelMapping.ClassNames));
            // No grey step here: the colour channels as SkiaSharp keeps them, so only ONNX Runtime's arithmetic differs.
            OnnxSampleMatchesTheChain(onnxDll, onnxPath, chain, files, work, tolerance: 1e-5);
        }
    }

    /// <summary>PNG files of random colours in six sizes, around the 28x28 the models take; opaque, or with
    /// <paramref name="transparent"/> random alpha in half of them.</summary>
    private static string ColourNoise(string folder, int seed, bool transparent = false)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        foreach (var (width, height) in new[] { (28, 28), (40, 40), (20, 20), (57, 31), (100, 64), (13, 90) })
        {
            var bgra = new byte[width * height * 4];
            random.NextBytes(bgra);
            for (int k = 3; k < bgra.Length; k += 4) bgra[k] = 255;
            using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bgra);
            image.Save(Path.Combine(folder, $"{width}x{height}.png"));
            if (!transparent) continue;
            random.NextBytes(bgra);
            using var seeThrough = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bgra);
            seeThrough.Save(Path.Combine(folder, $"{width}x{height}-alpha.png"));
        }
        return folder;
    }

    /// <summary>Runs samples/ScoreOnnx on <paramref name="folder"/> and compares its probabilities with the chain's.</summary>
    private static void OnnxSampleMatchesTheChain(string onnxDll, string onnxPath, ITransformer chain, string folder, string work, double tolerance)
    {
        var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray();
        var ml = new MLContext();
        var expected = chain.Transform(ml.Data.LoadFromEnumerable(files.Select(f => new PathAndLabel { ImagePath = f })))
            .GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var run = ProcessRunner.Run("dotnet", $"\"{onnxDll}\" \"{onnxPath}\" \"{folder}\"", work, TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, run.Output);
        var byPath = OnnxSampleLines(run.Output);
        for (int i = 0; i < files.Length; i++)
        {
            var probabilities = byPath[Path.GetFullPath(files[i])][3].Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Assert.True(probabilities.Zip(expected[i], (a, b) => Math.Abs(a - b)).Max() < tolerance,
                $"{files[i]}: {string.Join(" ", probabilities)} against {string.Join(" ", expected[i])}");
        }
    }

    /// <summary>samples/ScoreOnnx's result lines (path, class, probability, all probabilities) by full path; its
    /// messages about unreadable files have no tabs.</summary>
    private static Dictionary<string, string[]> OnnxSampleLines(string output)
        => output.Split('\n').Select(l => l.TrimEnd('\r').Split('\t')).Where(f => f.Length == 4).ToDictionary(f => Path.GetFullPath(f[0]));

    private sealed class PathAndLabel
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    [Fact]
    public void Fit_resumes_from_the_checkpoint_of_a_killed_process()
    {
        var dll = SampleDll("FashionMnist");
        var work = TempFolders.Create("diffautoml-resume").FullName;
        var checkpoints = Path.Combine(work, "checkpoints");
        var info = new ProcessStartInfo("dotnet", $"\"{dll}\" --epochs 3 --checkpoint \"{checkpoints}\" --out \"{work}\" --quiet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using (var process = Process.Start(info)!)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var checkpoint = Path.Combine(checkpoints, "checkpoint.bin");
            var clock = Stopwatch.StartNew();
            while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(5)) Thread.Sleep(100);
            Assert.True(File.Exists(checkpoint), "the first epoch's checkpoint never appeared");
            process.Kill(entireProcessTree: true); // as kill -9: no chance to clean up
            process.WaitForExit();
        }

        // The same options as the sample's (its default profile, Efficient), so that the checkpoint matches; the
        // block costs its budget measured are resumed from the checkpoint too.
        var ml = new MLContext(seed: 1);
        var options = DiffAutoMLOptions.FromProfile(DiffAutoMLProfile.Efficient);
        (options.Epochs, options.CheckpointFolder) = (3, checkpoints);
        using var model = ml.Auto().DiffAutoML(options).Fit(FitEndToEndTests.Train(ml));
        Assert.True(model.Report.Resumed);
        Assert.Equal(3, model.Report.EpochsCompleted);
        Assert.Equal(new[] { 1, 2, 3 }, model.Report.History.Select(h => h.Epoch));
        Assert.True(model.Evaluate(FitEndToEndTests.Test(ml)).MicroAccuracy > 0.3);
    }

    [Fact]
    public void A_damaged_checkpoint_is_reported_and_not_used()
    {
        var work = TempFolders.Create("diffautoml-corrupt").FullName;
        var ml = new MLContext(seed: 1);
        var data = ml.Data.TakeRows(FitEndToEndTests.Train(ml), 600);
        var options = FitEndToEndTests.Small(epochs: 1);
        options.CheckpointFolder = work;
        ml.Auto().DiffAutoML(options).Fit(data).Dispose();
        var path = Path.Combine(work, "checkpoint.bin");
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ml.Auto().DiffAutoML(options).Fit(data));
        Assert.Contains("checksum", e.Message);
        Assert.Contains(path, e.Message);

        options.Epochs = 2; // other options: the checkpoint belongs to another search
        File.Delete(path);
        ml.Auto().DiffAutoML(FitEndToEndTests.Small(epochs: 1) with { CheckpointFolder = work }).Fit(data).Dispose();
        var mismatch = Assert.Throws<InvalidOperationException>(() => ml.Auto().DiffAutoML(options).Fit(data));
        Assert.Contains("other data or options", mismatch.Message);
        // Other stage strides leave every parameter's shape as it was: only the fingerprint tells the networks apart.
        var strided = FitEndToEndTests.Small(epochs: 1) with { CheckpointFolder = work };
        strided.SearchSpace = strided.SearchSpace with { StageStrides = new[] { 1, 2, 2, 2 } };
        var stridesMismatch = Assert.Throws<InvalidOperationException>(() => ml.Auto().DiffAutoML(strided).Fit(data));
        Assert.Contains("other data or options", stridesMismatch.Message);

        // The same options, the same number of images with the same labels, but other pixels: not the same search.
        var raw = IdxDataset.Read(TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"));
        var pixels = raw.Pixels.AsSpan(0, 600 * 784).ToArray();
        string images = Path.Combine(work, "other-images.gz"), labels = Path.Combine(work, "other-labels.gz");
        IdxDataset.Write(images, labels, pixels, raw.Labels.AsSpan(0, 600), 28, 28);
        using var copy = ml.Auto().DiffAutoML(FitEndToEndTests.Small(epochs: 1) with { CheckpointFolder = work })
            .Fit(IdxDataset.Load(ml, images, labels, IdxDataset.FashionMnistClassNames));
        Assert.True(copy.Report.Resumed); // a copy of the same images is the same data
        pixels[599 * 784 + 300] ^= 0x80;
        IdxDataset.Write(images, labels, pixels, raw.Labels.AsSpan(0, 600), 28, 28);
        var other = IdxDataset.Load(ml, images, labels, IdxDataset.FashionMnistClassNames);
        var otherPixels = Assert.Throws<InvalidOperationException>(() => ml.Auto().DiffAutoML(FitEndToEndTests.Small(epochs: 1) with { CheckpointFolder = work }).Fit(other));
        Assert.Contains("other data or options", otherPixels.Message);
    }
}
