using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Reporting;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Export;

public class ScoringChainTests
{
    private sealed class PathInput
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <summary>A transformer around a child with random weights, for the shipped PNG folder (path column).</summary>
    internal static (DiffAutoMLTransformer Model, IDataView Data, float[] ExpectedScores, string[] ClassNames) PathModel(MLContext ml)
        => PathModel(ml, out _);

    /// <summary>Also gives the accuracy of the same weights evaluated by TorchSharp (eval mode) on the same images.</summary>
    internal static (DiffAutoMLTransformer Model, IDataView Data, float[] ExpectedScores, string[] ClassNames) PathModel(MLContext ml, out double torchAccuracy, string? imageFolder = null)
    {
        var (child, stats, images) = OnnxExporterTests.TrainedChild(new[] { 3, 0, 2, 1 }, 1, seed: 4);
        using (child)
        using (images)
        {
            var data = ImageFolderDataset.Load(ml, Path.Combine(TestPaths.Subset, "test-png"));
            var chainOnnx = OnnxExporter.Export(child, stats, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn, views: null,
                images.LabelMapping.ClassNames);
            var input = new ScoringInput("ImagePath", ImageColumnKind.Path, imageFolder, 1, 28, 28, PixelLayout.Chw, false);
            var chain = ScoringChainBuilder.Fit(ml, input, chainOnnx, images.LabelMapping, null, data);
            var model = new DiffAutoMLTransformer(ml, chain, OnnxExporter.Export(child, stats), images.LabelMapping, input, new DiffAutoMLReport());
            using var scope = NewDisposeScope();
            child.eval();
            using (no_grad())
            {
                var predicted = child.forward(stats.Normalize(images.Images.to(ScalarType.Float32))).argmax(1).data<long>().ToArray();
                torchAccuracy = predicted.Where((p, i) => p == images.Labels[i]).Count() / (double)images.Count;
            }
            var expected = OnnxExporterTests.OnnxRun(OnnxExporter.Export(child, stats), images.Images.to(ScalarType.Float32).data<float>().ToArray(), images.Count, OnnxExporter.ProbabilitiesName);
            return (model, data, expected, images.LabelMapping.ClassNames.ToArray());
        }
    }

    [Fact]
    public void Chain_scores_paths_like_onnx_runtime_and_names_the_predicted_class()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, expected, classes) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var scored = model.Transform(data);
        var scoreType = (VectorDataViewType)scored.Schema["Score"].Type;
        Assert.Equal(10, scoreType.Size);
        Assert.Equal(TextDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        Assert.Null(scored.Schema.GetColumnOrNull(ScoringChainBuilder.PixelsColumn));
        var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var labels = scored.GetColumn<string>("PredictedLabel").ToArray();
        Assert.Equal(200, scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            for (int c = 0; c < 10; c++) Assert.Equal(expected[i * 10 + c], scores[i][c], 1e-5);
            Assert.Equal(classes[Array.IndexOf(scores[i], scores[i].Max())], labels[i]);
        }
        var engine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(model);
        var first = engine.Predict(new PathInput { ImagePath = data.GetColumn<string>("ImagePath").First() });
        Assert.Equal(labels[0], first.PredictedLabel);
        Assert.Equal(scores[0], first.Score);
    }

    [Fact]
    public async Task Prediction_engines_on_several_threads_score_as_one_engine_does()
    {
        // A web server scores on many threads at once, one PredictionEngine each (an engine itself is not thread-safe, as
        // in ML.NET): the chain's mappings and ONNX Runtime session are shared, so any state kept between rows in them
        // would mix images up.
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using var disposeModel = model;
        var paths = data.GetColumn<string>("ImagePath").ToArray();
        var engine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(model);
        var alone = paths.Select(p => engine.Predict(new PathInput { ImagePath = p })).Select(r => (r.PredictedLabel, r.Score)).ToArray();
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var own = ml.Model.CreatePredictionEngine<PathInput, Prediction>(model);
            // Each thread in its own order, so that at any moment the threads score different images.
            var order = Enumerable.Range(0, paths.Length).ToArray();
            new Random(t).Shuffle(order);
            var results = new (string Label, float[] Score)[paths.Length];
            foreach (var i in order)
            {
                var r = own.Predict(new PathInput { ImagePath = paths[i] });
                results[i] = (r.PredictedLabel, r.Score);
            }
            return results;
        })));
        foreach (var results in together)
            for (int i = 0; i < paths.Length; i++)
            {
                Assert.Equal(alone[i].PredictedLabel, results[i].Label);
                Assert.Equal(alone[i].Score, results[i].Score);
            }
    }

    [Fact]
    public void Evaluate_gives_the_accuracy_of_the_torchsharp_evaluation_of_the_same_weights()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml, out var torchAccuracy);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var metrics = model.Evaluate(data, "Label");
        Assert.Equal(torchAccuracy, metrics.MicroAccuracy, 10);
        // The same through ML.NET's evaluator directly, with the label mapped in the model's class order.
        var pairs = model.Labels.ClassNames.Select((name, i) => new KeyValuePair<string, float>(name, i));
        var mapped = ml.Transforms.Conversion.MapValue("LabelIndex", pairs, "Label").Fit(data).Transform(data);
        Assert.Equal(torchAccuracy, ml.MulticlassClassification.Evaluate(model.Transform(mapped), "LabelIndex").MicroAccuracy, 10);
        // A label the model has no class for would have been left out of the metrics (a missing label to ML.NET).
        var rows = ml.Data.CreateEnumerable<PathAndLabel>(data, reuseRowObject: false).ToArray();
        rows[3].Label = "Unicorn";
        var error = Assert.Throws<ImageDataException>(() => model.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label"));
        Assert.Equal(3, error.Row);
        Assert.Contains("the label 'Unicorn' is not one of the model's classes (", error.Message);
    }

    private sealed class PathAndLabel
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    [Fact]
    public void The_network_file_ML_NET_writes_lives_in_the_contexts_temp_folder_until_the_model_is_disposed()
    {
        // ML.NET keeps an ONNX model in a file under MLContext.TempFilePath; for a model given as bytes it never deleted
        // that file (one per Fit was left behind). The chain is now fitted so that it owns the file.
        var temp = TempFolders.Create("diffautoml-onnx-temp").FullName;
        var saved = TempFolders.Create("diffautoml-save").FullName;
        try
        {
            var ml = new MLContext(seed: 1) { TempFilePath = temp };
            var (model, data, expected, _) = PathModel(ml);
            Assert.Single(Directory.GetFileSystemEntries(temp));
            var scores = model.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
            Assert.Equal(expected.Length, scores.Length);
            for (int i = 0; i < scores.Length; i++) Assert.Equal(expected[i], scores[i], 1e-5);

            var path = Path.Combine(saved, "model.zip");
            ml.Model.Save(model, data.Schema, path);
            var loaded = ml.LoadDiffAutoMLModel(path, out _);
            Assert.Equal(2, Directory.GetFileSystemEntries(temp).Length);
            model.Dispose();
            Assert.Single(Directory.GetFileSystemEntries(temp));
            Assert.Equal(scores, loaded.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray());
            ((IDisposable)loaded).Dispose();
            Assert.Empty(Directory.GetFileSystemEntries(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
            Directory.Delete(saved, recursive: true);
        }
    }

    private const string ExitChildVariable = "DIFFAUTOML_EXIT_CHILD", ExitTempVariable = "DIFFAUTOML_EXIT_TEMP";
    private static readonly List<object> KeptUntilExit = new();

    [Fact]
    public void Models_never_disposed_delete_their_network_files_when_the_process_exits()
    {
        // .NET runs no finalizers at exit: a model nobody disposed (most ML.NET code disposes none) left its file behind.
        if (!FreshProcess.IsChild(ExitChildVariable))
        {
            var temp = TempFolders.Create("diffautoml-exit-temp").FullName;
            FreshProcess.RunTest(typeof(ScoringChainTests), nameof(Models_never_disposed_delete_their_network_files_when_the_process_exits),
                ExitChildVariable, TimeSpan.FromMinutes(3), new Dictionary<string, string> { [ExitTempVariable] = temp });
            Assert.Empty(Directory.GetFileSystemEntries(temp));
            return;
        }
        var ml = new MLContext(seed: 1) { TempFilePath = Environment.GetEnvironmentVariable(ExitTempVariable)! };
        var (model, data, _, _) = PathModel(ml);
        var path = Path.Combine(TempFolders.Create("diffautoml-exit-save").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        KeptUntilExit.Add(model); // alive until the process ends, like an application's models
        KeptUntilExit.Add(ml.LoadDiffAutoMLModel(path, out _));
        Assert.Equal(2, Directory.GetFiles(ml.TempFilePath).Length);
    }

    private const string LoadChildVariable = "DIFFAUTOML_LOAD_EXIT_CHILD", LoadModelVariable = "DIFFAUTOML_LOAD_EXIT_MODEL";

    [Fact]
    public void A_model_loaded_with_model_load_and_never_disposed_deletes_its_network_file_when_the_process_exits()
    {
        // mlContext.Model.Load passes through no code of this library but the registration, which the model needs anyway.
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux only: Windows deletes such files itself when the process ends");
        if (!FreshProcess.IsChild(LoadChildVariable))
        {
            var ml = new MLContext(seed: 1);
            var (model, data, _, _) = PathModel(ml);
            var path = Path.Combine(TempFolders.Create("diffautoml-load-exit-save").FullName, "model.zip");
            using (model) ml.Model.Save(model, data.Schema, path);
            var temp = TempFolders.Create("diffautoml-load-exit-temp").FullName;
            // A file of the same kind of name that holds another ONNX model (the same first bytes) is not touched.
            var bystander = Path.Combine(temp, "abcd1234.xyz");
            File.WriteAllBytes(bystander, [0x08, 0x08, .. "another network"u8]);
            FreshProcess.RunTest(typeof(ScoringChainTests), nameof(A_model_loaded_with_model_load_and_never_disposed_deletes_its_network_file_when_the_process_exits),
                LoadChildVariable, TimeSpan.FromMinutes(3), new Dictionary<string, string> { [ExitTempVariable] = temp, [LoadModelVariable] = path });
            Assert.Equal(new[] { bystander }, Directory.GetFileSystemEntries(temp));
            return;
        }
        var temp2 = Environment.GetEnvironmentVariable(ExitTempVariable)!;
        var loading = new MLContext { TempFilePath = temp2 }.RegisterDiffAutoML();
        KeptUntilExit.Add(File.OpenRead(Path.Combine(temp2, "abcd1234.xyz"))); // held open to the end, like the network
        KeptUntilExit.Add(loading.Model.Load(Environment.GetEnvironmentVariable(LoadModelVariable)!, out _));
        Assert.Equal(2, Directory.GetFiles(temp2).Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_saved_model_loads_and_scores_on_the_cpu_with_a_context_that_asks_for_a_gpu(bool fallbackToCpu)
    {
        // GpuDeviceId is how a user asks for training on CUDA. Loading with such a context made ML.NET ask the packaged
        // (CPU) ONNX Runtime for its CUDA provider: "not a readable ML.NET model", from a native entry-point error. Then a
        // retry on the CPU loaded it, but the failed attempt had left its copy of the network in the temp folder.
        Assert.False(DiffAutoMLScoring.OnnxRuntimeHasCudaProvider(0)); // the packaged ONNX Runtime is the CPU one
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using (model)
        {
            var path = Path.Combine(TempFolders.Create("diffautoml-gpu-context").FullName, "model.zip");
            ml.Model.Save(model, data.Schema, path);
            var temp = TempFolders.Create("diffautoml-gpu-context-temp").FullName;
            var gpu = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = fallbackToCpu, TempFilePath = temp };
            var loaded = gpu.LoadDiffAutoMLModel(path, out var schema);
            Assert.Single(Directory.GetFiles(temp));
            using (loaded as IDisposable)
            {
                Assert.NotNull(schema.GetColumnOrNull("ImagePath"));
                Assert.Equal(model.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray(),
                    loaded.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray());
            }
            Assert.Empty(Directory.GetFiles(temp));
        }
    }

    [Fact]
    public void Saved_model_loads_and_scores_identically()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var path = Path.Combine(TempFolders.Create("diffautoml-save").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var other = new MLContext(seed: 2);
        var loaded = other.LoadDiffAutoMLModel(path, out var schema);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        Assert.NotNull(schema.GetColumnOrNull("ImagePath"));
        var a = model.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        var b = loaded.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        Assert.Equal(a, b);
    }

    [Fact]
    public void Score_slots_are_named_by_class_before_and_after_save_and_load()
    {
        // Model Builder's scoring code reads the class of each score from the Score column's slot names.
        var ml = new MLContext(seed: 1);
        var (model, data, _, classes) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        string[] SlotNames(DataViewSchema schema)
        {
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            schema["Score"].GetSlotNames(ref names);
            return names.DenseValues().Select(n => n.ToString()).ToArray();
        }
        Assert.Equal(classes, SlotNames(model.GetOutputSchema(data.Schema)));
        Assert.Equal(classes, SlotNames(model.Transform(data).Schema));
        var path = Path.Combine(TempFolders.Create("diffautoml-slots").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out var schema);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        Assert.Equal(classes, SlotNames(loaded.GetOutputSchema(schema)));
        var engine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(loaded);
        Assert.Equal(classes, SlotNames(engine.OutputSchema));
        // The named slot with the largest score is the predicted label.
        var prediction = engine.Predict(new PathInput { ImagePath = data.GetColumn<string>("ImagePath").First() });
        Assert.Equal(prediction.PredictedLabel, classes[Array.IndexOf(prediction.Score, prediction.Score.Max())]);
    }

    [Fact]
    public void Unreadable_images_at_scoring_time_are_named_by_file()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var dir = TempFolders.Create("diffautoml-bad-scoring").FullName;
        var broken = Path.Combine(dir, "broken.png");
        File.WriteAllText(broken, "not an image");
        var good = data.GetColumn<string>("ImagePath").Take(3).ToArray();
        var path = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        // ML.NET's LoadImages said "Invalid input stream contents" without the file, and scored an empty path as a black image.
        foreach (var (bad, expected) in new[]
        {
            (broken, "broken.png' cannot be decoded (12 bytes starting 6E6F7420616E2069"),
            (Path.Combine(dir, "missing.png"), "missing.png' does not exist"),
            ("", "An image path is empty"),
            (dir, "is a folder, not an image file"),
        })
        {
            foreach (var scorer in new ITransformer[] { model, loaded })
            {
                var engine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(scorer);
                Assert.Equal(engine.Predict(new PathInput { ImagePath = good[0] }).PredictedLabel, model.Transform(data).GetColumn<string>("PredictedLabel").First());
                var e = Assert.ThrowsAny<Exception>(() => engine.Predict(new PathInput { ImagePath = bad }));
                Assert.True(e is InvalidDataException or FileNotFoundException, e.ToString());
                Assert.Contains(expected, e.Message);
                // A batch: ML.NET wraps the error in its own; the inner one names the file.
                var rows = ml.Data.LoadFromEnumerable(good.Append(bad).Select(p => new ImageFolderDataset.Row { ImagePath = p, Label = "Bag" }));
                var wrapped = Assert.ThrowsAny<Exception>(() => scorer.Transform(rows).GetColumn<string>("PredictedLabel").ToArray());
                Assert.Contains(expected, (wrapped.InnerException ?? wrapped).Message);
            }
            // The model's own Evaluate throws the image error itself.
            var rowsWithLabel = ml.Data.LoadFromEnumerable(good.Append(bad).Select(p => new ImageFolderDataset.Row { ImagePath = p, Label = "Bag" }));
            var evaluateError = Assert.ThrowsAny<Exception>(() => model.Evaluate(rowsWithLabel, "Label"));
            Assert.True(evaluateError is InvalidDataException or FileNotFoundException, evaluateError.ToString());
            Assert.Contains(expected, evaluateError.Message);
        }
    }

    private sealed class PictureRow
    {
        [Microsoft.ML.Transforms.Image.ImageType(28, 28)]
        public MLImage? Picture { get; set; }
    }

    [Fact]
    public void A_missing_image_in_an_image_column_is_an_error_not_a_black_image()
    {
        // LoadImages gives a null image for an empty path; ResizeImages and ExtractPixels turn it into zeros.
        var ml = new MLContext(seed: 1);
        var (child, stats, images) = OnnxExporterTests.TrainedChild(new[] { 3, 0, 2, 1 }, 1, seed: 4);
        using (child)
        using (images)
        {
            var chainOnnx = OnnxExporter.Export(child, stats, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn, views: null);
            var input = new ScoringInput("Picture", ImageColumnKind.MLImage, null, 1, 28, 28, PixelLayout.Chw, false);
            var file = Directory.GetFiles(Path.Combine(TestPaths.Subset, "test-png"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
            var rows = new[] { new PictureRow { Picture = MLImage.CreateFromFile(file) }, new PictureRow { Picture = null } };
            var data = ml.Data.LoadFromEnumerable(rows);
            using var chain = ScoringChainBuilder.Fit(ml, input, chainOnnx, images.LabelMapping, data.Schema["Picture"].Type, data);
            var engine = ml.Model.CreatePredictionEngine<PictureRow, Prediction>(chain);
            Assert.Contains(engine.Predict(rows[0]).PredictedLabel, images.LabelMapping.ClassNames);
            var e = Assert.Throws<InvalidDataException>(() => engine.Predict(rows[1]));
            Assert.Contains("image to score is missing", e.Message);
            var scored = chain.Transform(ml.Data.LoadFromEnumerable(rows));
            Assert.ThrowsAny<Exception>(() => scored.GetColumn<string>("PredictedLabel").ToArray());

            // Saved and loaded, the chain scores a column of another declared size (LoadImages declares none).
            var paths = ml.Data.LoadFromEnumerable(new[] { new PathInput { ImagePath = file }, new PathInput { ImagePath = "" } });
            var loadedImages = ml.Transforms.LoadImages("Picture", null, "ImagePath").Fit(paths).Transform(paths);
            var path = Path.Combine(TempFolders.Create("diffautoml-picture").FullName, "model.zip");
            ml.Model.Save(chain, loadedImages.Schema, path); // (a schema of image columns only cannot be saved)
            var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
            using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
            var fromLoaded = loaded.Transform(loadedImages);
            var inner = Assert.ThrowsAny<Exception>(() => fromLoaded.GetColumn<string>("PredictedLabel").ToArray());
            Assert.Contains("image to score is missing", inner.ToString());
            // The caller's image, scored a second time: ResizeImages disposes an input that already has the target size
            // when it moves on, so without the chain's own copy this image would be disposed by now.
            var expected = engine.Predict(rows[0]).PredictedLabel;
            Assert.Equal(28, rows[0].Picture!.Width);
            var good = ml.Data.TakeRows(loadedImages, 1);
            Assert.Equal(expected, loaded.Transform(good).GetColumn<string>("PredictedLabel").Single());
        }
    }

    [Fact]
    public void Each_image_mapping_disposes_the_image_of_the_previous_row_and_never_the_callers_image()
    {
        // CustomMapping fills one output object per cursor row after row; the image it holds is the previous row's.
        static void DisposedByTheNextRow(Action<DecodedImageOutput> map)
        {
            var output = new DecodedImageOutput();
            map(output);
            var first = output.DiffAutoMLImage!;
            Assert.Equal(28, first.Width);
            map(output);
            Assert.NotSame(first, output.DiffAutoMLImage);
            Assert.Equal(28, output.DiffAutoMLImage!.Width);
            Assert.Throws<InvalidOperationException>(() => first.Width); // disposed
        }
        var file = Directory.GetFiles(Path.Combine(TestPaths.Subset, "test-png", "Bag"))[0];
        var png = File.ReadAllBytes(file);
        DisposedByTheNextRow(output => DecodeImageMapping.Map(new EncodedImageInput { DiffAutoMLEncodedImage = new VBuffer<byte>(png.Length, png) }, output));
        DisposedByTheNextRow(output => LoadImageFileMapping.Map(new ImageFileInput { DiffAutoMLImagePath = file }, output));
        using var callers = MLImage.CreateFromFile(file);
        callers.Tag = "mine";
        DisposedByTheNextRow(output => RequireImageMapping.Map(new PresentImageInput { DiffAutoMLImageIn = callers }, output));
        Assert.Equal(28, callers.Width);
        var copy = new DecodedImageOutput();
        RequireImageMapping.Map(new PresentImageInput { DiffAutoMLImageIn = callers }, copy);
        Assert.Equal(callers.Pixels.ToArray(), copy.DiffAutoMLImage!.Pixels.ToArray());
        Assert.Equal((callers.PixelFormat, "mine"), (copy.DiffAutoMLImage.PixelFormat, copy.DiffAutoMLImage.Tag));
    }

    private sealed class FloatPixelRow
    {
        [VectorType(1, 28, 28)]
        public float[] Pixels { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void Pixel_vectors_to_score_are_checked_as_in_training()
    {
        // The first of equal scores wins; a NaN score (from a NaN or infinite pixel) used to give the first class too,
        // and still would in a model saved before the chain checked pixel values, without the argmax's own check.
        var output = new ArgMaxOutput();
        ArgMaxMapping.Map(new ArgMaxInput { Score = new VBuffer<float>(4, new[] { 0.1f, 0.4f, 0.4f, 0.1f }) }, output);
        Assert.Equal(1u, output.DiffAutoMLPredictedIndex);
        Assert.Throws<InvalidDataException>(() => ArgMaxMapping.Map(new ArgMaxInput { Score = new VBuffer<float>(3, new[] { float.NaN, float.NaN, float.NaN }) }, output));

        var ml = new MLContext(seed: 1);
        var (child, stats, images) = OnnxExporterTests.TrainedChild(new[] { 0, 1, 2, 3 }, 1, seed: 6);
        using (child)
        using (images)
        {
            var input = new ScoringInput("Pixels", ImageColumnKind.PixelVector, null, 1, 28, 28, PixelLayout.Chw, PixelsAreBytes: false);
            Assert.True(ScoringChainBuilder.ChecksPixelValues(input));
            var chainOnnx = OnnxExporter.Export(child, stats, PixelLayout.Chw, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn,
                views: null, anyInputLength: true);
            var good = images.Images[0].to(ScalarType.Float32).data<float>().ToArray();
            var data = ml.Data.LoadFromEnumerable(new[] { new FloatPixelRow { Pixels = good } });
            using var chain = ScoringChainBuilder.Fit(ml, input, chainOnnx, images.LabelMapping, null, data);
            var path = Path.Combine(TempFolders.Create("diffautoml-pixels").FullName, "model.zip");
            ml.Model.Save(chain, data.Schema, path);
            var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
            using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
            var expected = OnnxExporterTests.OnnxRun(OnnxExporter.Export(child, stats), good, 1, OnnxExporter.ProbabilitiesName);
            foreach (var model in new[] { chain, loaded })
            {
                var engine = ml.Model.CreatePredictionEngine<FloatPixelRow, Prediction>(model);
                var scores = engine.Predict(new FloatPixelRow { Pixels = good }).Score;
                for (int c = 0; c < expected.Length; c++) Assert.Equal(expected[c], scores[c], 1e-5);
                foreach (var (bad, message) in new[] { (float.NaN, "NaN"), (float.PositiveInfinity, "outside 0..255"), (300f, "outside 0..255"), (-1f, "outside 0..255") })
                {
                    var pixels = (float[])good.Clone();
                    pixels[100] = bad;
                    var e = Assert.Throws<InvalidDataException>(() => engine.Predict(new FloatPixelRow { Pixels = pixels }));
                    Assert.Contains(message, e.Message);
                }
                var scaled = good.Select(v => v / 255f).ToArray();
                Assert.Contains("as if scaled", Assert.Throws<InvalidDataException>(() => engine.Predict(new FloatPixelRow { Pixels = scaled })).Message);
            }
        }
    }

    [Fact]
    public void Encoded_bytes_that_are_empty_or_not_an_image_are_errors_not_black_images()
    {
        var png = File.ReadAllBytes(Directory.GetFiles(Path.Combine(TestPaths.Subset, "test-png", "Bag"))[0]);
        var output = new DecodedImageOutput();
        DecodeImageMapping.Map(new EncodedImageInput { DiffAutoMLEncodedImage = new VBuffer<byte>(png.Length, png) }, output);
        Assert.Equal((28, 28), (output.DiffAutoMLImage!.Width, output.DiffAutoMLImage.Height));
        var empty = Assert.Throws<InvalidDataException>(() => DecodeImageMapping.Map(new EncodedImageInput { DiffAutoMLEncodedImage = new VBuffer<byte>(0, Array.Empty<byte>()) }, new DecodedImageOutput()));
        Assert.Contains("empty (0 bytes)", empty.Message);
        var text = System.Text.Encoding.ASCII.GetBytes("not an image");
        var garbage = Assert.Throws<InvalidDataException>(() => DecodeImageMapping.Map(new EncodedImageInput { DiffAutoMLEncodedImage = new VBuffer<byte>(text.Length, text) }, new DecodedImageOutput()));
        Assert.Contains("cannot be decoded (12 bytes starting 6E6F7420616E2069", garbage.Message);
    }

    [Fact]
    public void Relative_paths_are_scored_from_the_models_image_folder_even_with_quotes_in_its_name()
    {
        var ml = new MLContext(seed: 1);
        // The folder travels inside the saved chain as a text constant: quotes and backslashes must survive.
        var folder = TempFolders.Create("diffautoml \"quoted\" \\ folder").FullName;
        var (withFolder, data, expected, _) = PathModel(ml, out _, folder);
        using var disposeWithFolder = withFolder; // deletes ML.NET's temporary copy of the network
        var files = data.GetColumn<string>("ImagePath").Take(5).ToArray();
        var relative = files.Select((f, i) => { File.Copy(f, Path.Combine(folder, $"{i}.png")); return $"{i}.png"; }).ToArray();
        var path = Path.Combine(folder, "model.zip");
        ml.Model.Save(withFolder, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        var rows = ml.Data.LoadFromEnumerable(relative.Select(p => new ImageFolderDataset.Row { ImagePath = p, Label = "Bag" }));
        var scores = loaded.Transform(rows).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        for (int i = 0; i < scores.Length; i++) Assert.Equal(expected[i], scores[i], 1e-5);
        // Absolute paths ignore the folder, as with ML.NET's LoadImages.
        var absolute = ml.Data.LoadFromEnumerable(files.Select(p => new ImageFolderDataset.Row { ImagePath = p, Label = "Bag" }));
        Assert.Equal(scores, loaded.Transform(absolute).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray());
    }

    [Fact]
    public void A_missing_assembly_is_named_instead_of_blaming_the_model_file()
    {
        // The shape ML.NET gives when a transform's assembly is absent (seen with Microsoft.ML.OnnxTransformer missing).
        var missing = new System.Reflection.TargetInvocationException(new FileNotFoundException(
            "Could not load file or assembly 'Microsoft.ML.OnnxTransformer, Version=1.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51'.",
            "Microsoft.ML.OnnxTransformer, Version=1.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51"));
        Assert.Equal("Microsoft.ML.OnnxTransformer", DiffAutoMLScoring.MissingAssembly(new InvalidOperationException("wrapped", missing)));
        Assert.Null(DiffAutoMLScoring.MissingAssembly(new FileNotFoundException("no such file", "/tmp/model.zip")));
    }

    [Fact]
    public void Truncated_or_altered_model_files_fail_with_a_clear_error()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var dir = TempFolders.Create("diffautoml-bad").FullName;
        var path = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var bytes = File.ReadAllBytes(path);
        var truncated = Path.Combine(dir, "truncated.zip");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().LoadDiffAutoMLModel(truncated, out _));
        Assert.Contains("truncated.zip", e.Message);
        var altered = Path.Combine(dir, "altered.zip");
        var copy = (byte[])bytes.Clone();
        for (int i = copy.Length / 3; i < copy.Length / 3 + 64; i++) copy[i] ^= 0xFF;
        File.WriteAllBytes(altered, copy);
        // Bytes flipped inside the compressed ONNX weights can decompress without error; only the zip's CRC-32 tells.
        e = Assert.Throws<InvalidDataException>(() => new MLContext().LoadDiffAutoMLModel(altered, out _));
        Assert.Contains("altered.zip", e.Message);
        Assert.Throws<FileNotFoundException>(() => new MLContext().LoadDiffAutoMLModel(Path.Combine(dir, "missing.zip"), out _));
    }

    [Fact]
    public void Concurrent_prediction_engines_agree_with_serial_scoring()
    {
        var ml = new MLContext(seed: 1);
        var (model, data, _, _) = PathModel(ml);
        using var disposeModel = model; // deletes ML.NET's temporary copy of the network
        var paths = data.GetColumn<string>("ImagePath").ToArray();
        var serialEngine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(model);
        var serial = paths.Select(p => serialEngine.Predict(new PathInput { ImagePath = p })).Select(p => (p.PredictedLabel, p.Score.ToArray())).ToArray();
        var parallel = new (string, float[])[paths.Length];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var engine = ml.Model.CreatePredictionEngine<PathInput, Prediction>(model);
            for (int i = worker; i < paths.Length; i += 8)
            {
                var p = engine.Predict(new PathInput { ImagePath = paths[i] });
                parallel[i] = (p.PredictedLabel, p.Score.ToArray());
            }
        });
        for (int i = 0; i < paths.Length; i++)
        {
            Assert.Equal(serial[i].Item1, parallel[i].Item1);
            Assert.Equal(serial[i].Item2, parallel[i].Item2);
        }
    }

    [Theory]
    [InlineData(1, 28, 28, "shipped")] // the shipped grey PNGs at their size
    [InlineData(1, 56, 56, "shipped")] // grey, upscaled by 2
    [InlineData(1, 20, 33, "shipped")] // grey, shrunk in one direction and stretched in the other
    [InlineData(3, 40, 32, "png")] // colour PNGs of several sizes
    [InlineData(3, 17, 23, "png")]
    [InlineData(3, 30, 30, "jpg")] // colour JPEGs: ImageSharp's and SkiaSharp's decoders differ, training uses SkiaSharp's
    [InlineData(3, 30, 30, "png-alpha")] // PNGs with transparency
    [InlineData(3, 30, 30, "gif")]
    [InlineData(3, 30, 30, "bmp")]
    [InlineData(3, 30, 30, "webp")]
    [InlineData(1, 30, 30, "png-grey16")]
    public void Images_give_the_network_the_same_pixels_in_training_and_in_scoring(int channels, int height, int width, string format)
    {
        var ml = new MLContext(seed: 1);
        string folder = Path.Combine(TestPaths.Subset, "test-png");
        if (format != "shipped")
        {
            // Random images of several sizes, none of them the training size.
            folder = TempFolders.Create("diffautoml-resize").FullName;
            var random = new Random(5);
            for (int i = 0; i < 12; i++)
            {
                int w = random.Next(9, 70), h = random.Next(9, 70);
                using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgba32>(w, h);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        byte r = (byte)random.Next(256), g = (byte)random.Next(256), b = (byte)random.Next(256);
                        image[x, y] = format == "png-grey16" ? new SixLabors.ImageSharp.PixelFormats.Rgba32(r, r, r, 255)
                            : new SixLabors.ImageSharp.PixelFormats.Rgba32(r, g, b, format == "png-alpha" ? (byte)random.Next(256) : (byte)255);
                    }
                string extension = format.Split('-')[0];
                Directory.CreateDirectory(Path.Combine(folder, i % 2 == 0 ? "a" : "b"));
                var file = Path.Combine(folder, i % 2 == 0 ? "a" : "b", $"{i}.{extension}");
                using var stream = File.Create(file);
                SixLabors.ImageSharp.Formats.IImageEncoder encoder = format switch
                {
                    "jpg" => new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder(),
                    "gif" => new SixLabors.ImageSharp.Formats.Gif.GifEncoder(),
                    "bmp" => new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder(),
                    "webp" => new SixLabors.ImageSharp.Formats.Webp.WebpEncoder(),
                    "png-grey16" => new SixLabors.ImageSharp.Formats.Png.PngEncoder { ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.Grayscale, BitDepth = SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit16 },
                    "png-alpha" => new SixLabors.ImageSharp.Formats.Png.PngEncoder { ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.RgbWithAlpha },
                    _ => new SixLabors.ImageSharp.Formats.Png.PngEncoder(),
                };
                image.Save(stream, encoder);
            }
        }
        var data = ImageFolderDataset.Load(ml, folder);
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { ImageColumnName = "ImagePath", Channels = channels, Height = height, Width = width });

        var input = new ScoringInput("ImagePath", ImageColumnKind.Path, null, channels, height, width, PixelLayout.Chw, false);
        var pixels = ml.Transforms.LoadImages(ScoringChainBuilder.ImageColumn, null, "ImagePath")
            .Append(ScoringChainBuilder.ImageToPixels(ml, ScoringChainBuilder.ImageColumn, input))
            .Fit(data).Transform(data).GetColumn<VBuffer<float>>(ScoringChainBuilder.PixelsColumn).Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(cache.Count, pixels.Length);
        for (int i = 0; i < cache.Count; i++)
        {
            using var row = cache.Images[i];
            var training = row.contiguous().data<byte>().ToArray().Select(b => (float)b).ToArray();
            Assert.Equal(training, pixels[i]);
        }
    }
}
