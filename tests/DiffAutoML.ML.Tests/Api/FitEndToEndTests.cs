using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Scoring;
using DiffAutoML.ML.Tests.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Tests.Api;

/// <summary>Fit on the shipped Fashion-MNIST subset, end to end.</summary>
[Collection(HeavyTestsCollection.Name)]
public class FitEndToEndTests
{
    internal static IDataView Train(MLContext ml) => IdxDataset.Load(ml, TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);

    internal static IDataView Test(MLContext ml) => IdxDataset.Load(ml, TestPaths.SubsetFile("t10k-images-idx3-ubyte.gz"), TestPaths.SubsetFile("t10k-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);

    /// <summary>A smaller search space, so that the end-to-end tests stay quick on two cores.</summary>
    internal static DiffAutoMLOptions Small(int epochs, DiffAutoMLProfile profile = DiffAutoMLProfile.Paper)
    {
        var options = DiffAutoMLOptions.FromProfile(profile);
        (options.Epochs, options.BatchSize, options.ProgressEverySteps) = (epochs, 128, 10);
        options.SearchSpace.StageRepeats = new[] { 1, 1, 2, 1 };
        options.SearchSpace.StageChannels = new[] { 32, 64, 96, 128 };
        options.SearchSpace.TailChannels = 256;
        return options;
    }

    private sealed class Input
    {
        [VectorType(1, 28, 28)]
        public byte[] Image { get; set; } = Array.Empty<byte>();
    }

    private sealed class Output
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void Full_search_on_the_shipped_subset_reaches_a_useful_test_accuracy()
    {
        var ml = new MLContext(seed: 1);
        var progress = new List<DiffAutoMLProgress>();
        var options = Small(epochs: 6);
        options.Progress = new SynchronousProgress<DiffAutoMLProgress>(progress.Add);
        using var model = ml.Auto().DiffAutoML(options).Fit(Train(ml));

        var metrics = model.Evaluate(Test(ml));
        TestContext.Current.SendDiagnosticMessage($"test accuracy {metrics.MicroAccuracy:P2}; {model.Report.Architecture}");
        Assert.True(metrics.MicroAccuracy >= 0.75, $"test accuracy {metrics.MicroAccuracy:P2}");

        var report = model.Report;
        Assert.Equal(5, report.Architecture.Split(' ').Length);
        Assert.Equal(6, report.History.Count);
        Assert.Equal(2, report.SearchEpochs);
        Assert.Equal("search", report.History[0].Stage);
        Assert.Equal("tuning", report.History[^1].Stage);
        Assert.True(report.MFlops > 0 && report.Parameters > 0);
        Assert.Equal("completed", report.StoppedBy);
        Assert.NotEmpty(report.HyperParameters);
        Assert.Null(report.TestTimeViewsValidationAccuracy);
        Assert.Contains(progress, p => p.EndOfEpoch && p.Stage == "search" && !double.IsNaN(p.ArchitectureEntropy));
        Assert.Contains(progress, p => p.TopSubPolicies.Count > 0);
        Assert.Equal(report.Architecture, DiffAutoMLReportRoundTrip(report).Architecture);

        var engine = ml.Model.CreatePredictionEngine<Input, Output>(model);
        var first = ml.Data.CreateEnumerable<Input>(Test(ml), reuseRowObject: false).First();
        var prediction = engine.Predict(first);
        Assert.Contains(prediction.PredictedLabel, IdxDataset.FashionMnistClassNames);
        Assert.Equal(10, prediction.Score.Length);
    }

    private static DiffAutoML.ML.Reporting.DiffAutoMLReport DiffAutoMLReportRoundTrip(DiffAutoML.ML.Reporting.DiffAutoMLReport report)
        => DiffAutoML.ML.Reporting.DiffAutoMLReport.FromJson(report.ToJson());

    [Fact]
    public void A_model_trained_on_encoded_bytes_decodes_them_when_scoring_and_after_reloading()
    {
        var temp = TempFolders.Create("diffautoml-onnx-temp").FullName;
        var ml = new MLContext(seed: 1) { TempFilePath = temp };
        var folder = Path.Combine(TestPaths.Subset, "test-png");
        var rows = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d).OrderBy(f => f, StringComparer.Ordinal).Select(f => new BytesRow { Image = File.ReadAllBytes(f), Label = Path.GetFileName(d) }))
            .ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = Small(epochs: 1);
        options.ValidationFraction = 0.2;
        using var model = ml.Auto().DiffAutoML(options).Fit(data);
        var scores = model.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();

        // The same pixels decoded by the training path (ImageSharp) through ONNX Runtime directly.
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        using var scope = TorchSharp.torch.NewDisposeScope();
        var expected = DiffAutoML.ML.Tests.Export.OnnxExporterTests.OnnxRun(model.OnnxModel.ToArray(),
            cache.Images.to(TorchSharp.torch.ScalarType.Float32).data<float>().ToArray(), cache.Count, DiffAutoML.ML.Export.OnnxExporter.ProbabilitiesName);
        Assert.Equal(expected.Length, scores.Length);
        for (int i = 0; i < scores.Length; i++) Assert.Equal(expected[i], scores[i], 1e-5);

        var path = Path.Combine(TempFolders.Create("diffautoml-bytes").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        Assert.Equal(scores, loaded.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray());

        // Fit left one file in the context's temp folder, the network ONNX Runtime reads, and disposing deletes it.
        Assert.Single(Directory.GetFileSystemEntries(temp));
        model.Dispose();
        Assert.Empty(Directory.GetFileSystemEntries(temp));
        Directory.Delete(temp);
    }

    [Fact]
    public void Photos_train_at_the_search_spaces_automatic_size_and_the_model_resizes_them_alike()
    {
        // 300x200 colour images: the Compact space (stride-1 stem, built for 28-64 pixels) trains them at 64x43, not at
        // their own size nor at the Paper preset's 224 pixels.
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 16).Select(i => new BytesRow { Image = TestImages.ColourPng(300, 200, 10 * i), Label = i % 2 == 0 ? "even" : "odd" }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = Small(epochs: 1);
        options.ValidationFraction = 0.25;
        Assert.Equal(DiffAutoML.ML.Search.SearchSpacePreset.Compact, options.SearchSpace.Preset);
        using var model = ml.Auto().DiffAutoML(options).Fit(data);
        Assert.Equal("3x43x64", model.Report.InputShape);
        var scores = model.Transform(data).GetColumn<VBuffer<float>>("Score").ToArray();
        Assert.Equal(rows.Length, scores.Length);
        Assert.All(scores, s => Assert.Equal(1.0, s.DenseValues().Sum(), 1e-4));
    }

    private sealed class FloatPixelsRow
    {
        [VectorType(1, 28, 28)]
        public float[] Pixels { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void A_model_trained_on_float_pixels_refuses_pixels_training_would_refuse()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.TakeRows(Train(ml), 600);
        var data = ml.Transforms.Conversion.ConvertType("Pixels", "Image", DataKind.Single).Fit(rows).Transform(rows);
        var options = Small(epochs: 1);
        options.Data.ImageColumnName = "Pixels";
        using var model = ml.Auto().DiffAutoML(options).Fit(data);
        var path = Path.Combine(TempFolders.Create("diffautoml-float-pixels").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var row = ml.Data.CreateEnumerable<FloatPixelsRow>(data, reuseRowObject: false).First();
        var scores = model.Transform(ml.Data.TakeRows(data, 1)).GetColumn<VBuffer<float>>("Score").Single().DenseValues().ToArray();
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        foreach (var scorer in new[] { model, loaded })
        {
            var engine = ml.Model.CreatePredictionEngine<FloatPixelsRow, Output>(scorer);
            Assert.Equal(scores, engine.Predict(row).Score);
            var scaled = new FloatPixelsRow { Pixels = row.Pixels.Select(v => v / 255f).ToArray() };
            Assert.Contains("as if scaled", Assert.Throws<InvalidDataException>(() => engine.Predict(scaled)).Message);
        }
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class LabelValuePrediction
    {
        public string PredictedLabelValue { get; set; } = "";
    }

    [Fact]
    public void A_model_trained_on_loaded_images_scores_them_and_refuses_a_missing_one()
    {
        // LoadImages before the estimator: the model's column holds MLImage values of a size ML.NET does not declare.
        var ml = new MLContext(seed: 1);
        var data = ImageFolderDataset.Load(ml, Path.Combine(TestPaths.Subset, "test-png"));
        var options = Small(epochs: 1);
        options.Data.ImageColumnName = "Picture";
        options.ValidationFraction = 0.2;
        using var model = ml.Transforms.LoadImages("Picture", null, "ImagePath").Append(ml.Auto().DiffAutoML(options)).Fit(data);
        var scored = model.Transform(data);
        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        var classes = scored.GetColumn<string>("Label").Distinct().ToArray();
        Assert.All(predicted, p => Assert.Contains(p, classes));
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        scored.Schema["Score"].GetSlotNames(ref slotNames);
        Assert.Equal(classes.Order(StringComparer.Ordinal), slotNames.DenseValues().Select(n => n.ToString()).Order(StringComparer.Ordinal));

        var path = Path.Combine(TempFolders.Create("diffautoml-mlimage").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        var engine = ml.Model.CreatePredictionEngine<PathRow, Output>(loaded);
        var first = ml.Data.CreateEnumerable<PathRow>(data, reuseRowObject: false).First();
        Assert.Equal(predicted[0], engine.Predict(first).PredictedLabel);
        // An empty path: LoadImages gives no image, which is an error rather than the scores of a black image.
        var e = Assert.Throws<InvalidDataException>(() => engine.Predict(new PathRow { ImagePath = "" }));
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_model_builder_pipeline_maps_labels_to_keys_and_the_predicted_key_back_to_its_value()
    {
        // The shape of Model Builder's image classification code: text labels to keys, raw bytes, the trainer, keys back
        // to values. EstimatorChain.Fit checks the whole chain's output schema before it trains.
        var ml = new MLContext(seed: 1);
        var data = ImageFolderDataset.Load(ml, Path.Combine(TestPaths.Subset, "test-png"));
        var options = Small(epochs: 1);
        options.Data.LabelColumnName = "LabelKey";
        options.Data.ImageColumnName = "ImageBytes";
        var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.Transforms.LoadRawImageBytes("ImageBytes", null, "ImagePath"))
            .Append(ml.Auto().DiffAutoML(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        using var model = pipeline.Fit(data);

        var scored = model.Transform(data);
        var truth = scored.GetColumn<string>("Label").ToArray();
        var predicted = scored.GetColumn<string>("PredictedLabelValue").ToArray();
        Assert.All(predicted, p => Assert.Contains(p, truth));
        var metrics = ml.MulticlassClassification.Evaluate(scored, "LabelKey");
        Assert.Equal(predicted.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length, metrics.MicroAccuracy, 10);

        var path = Path.Combine(TempFolders.Create("diffautoml-pipeline").FullName, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        var engine = ml.Model.CreatePredictionEngine<PathRow, LabelValuePrediction>(loaded);
        var first = ml.Data.CreateEnumerable<PathRow>(data, reuseRowObject: false).First();
        Assert.Equal(predicted[0], engine.Predict(first).PredictedLabelValue);
    }

    [Fact]
    public void With_test_time_flip_and_shifts_the_returned_model_scores_an_image_and_its_mirror_image_alike()
    {
        var ml = new MLContext(seed: 1);
        var options = Small(epochs: 3);
        options.Components = DiffAutoMLComponents.HyperParameters;
        options.Augmentation.RandomFlip = true;
        options.Augmentation.TestTimeFlip = true;
        options.Augmentation.RandomCropPadding = 2;
        options.Augmentation.TestTimeShift = true; // 10 views: the mirror image's views are the same set
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 1500));
        Assert.Contains("test-time flip True, test-time shift True", model.Report.Options["Augmentation"]);
        // Measured the way the model scores: well above chance (0.1) and near the plain accuracy of this flip-trained
        // network (3 epochs on 1,500 rows; one epoch of four steps left it at chance).
        var flipAccuracy = model.Report.TestTimeViewsValidationAccuracy!.Value;
        Assert.InRange(flipAccuracy, 0.3, 1.0);
        Assert.InRange(flipAccuracy - model.Report.ValidationAccuracy, -0.15, 0.15);

        var rows = ml.Data.CreateEnumerable<Input>(Test(ml), reuseRowObject: false).Take(20).ToArray();
        var mirrored = rows.Select(r => new Input { Image = Enumerable.Range(0, 784).Select(i => r.Image[i / 28 * 28 + 27 - i % 28]).ToArray() }).ToArray();
        float[] Scores(ITransformer m, Input[] input) => m.Transform(ml.Data.LoadFromEnumerable(input)).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        var scores = Scores(model, rows);
        var scoresOfMirrored = Scores(model, mirrored);
        for (int i = 0; i < scores.Length; i++) Assert.Equal(scores[i], scoresOfMirrored[i], 1e-5);
        // Not the trivial way: the images get different scores from each other.
        Assert.True(scores.Chunk(10).Select(s => s.Max()).Distinct().Count() > 10);

        // It is part of the saved model.
        var path = Path.Combine(TempFolders.Create("diffautoml-flip").FullName, "model.zip");
        ml.Model.Save(model, Test(ml).Schema, path);
        var loaded = new MLContext().LoadDiffAutoMLModel(path, out _);
        using var disposeLoaded = (IDisposable)loaded; // deletes ML.NET's temporary copy of the network
        var reloaded = Scores(loaded, mirrored);
        for (int i = 0; i < scores.Length; i++) Assert.Equal(scores[i], reloaded[i], 1e-5);
    }

    [Fact]
    public void Cancellation_stops_fit_with_an_operation_canceled_exception()
    {
        var ml = new MLContext(seed: 1);
        using var cancel = new CancellationTokenSource();
        var options = Small(epochs: 50);
        options.ProgressEverySteps = 2;
        options.CancellationToken = cancel.Token;
        options.Progress = new SynchronousProgress<DiffAutoMLProgress>(_ => cancel.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Auto().DiffAutoML(options).Fit(Train(ml)));
    }

    [Fact]
    public void The_time_budget_stops_the_run_and_still_returns_a_model()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.RawMessage.Contains("budget", StringComparison.OrdinalIgnoreCase) || e.RawMessage.StartsWith("Architecture fixed", StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
        var options = Small(epochs: 200);
        options.TimeBudget = TimeSpan.FromSeconds(40);
        using var model = ml.Auto().DiffAutoML(options).Fit(Train(ml));
        TestContext.Current.SendDiagnosticMessage(string.Join("\n", messages));
        // The machine's speed, as the planner measured it before training (a pessimistic probe: alone on 2 cores it
        // expects 2 epochs, then 7 fit): on a machine so busy that it expects one epoch (4 CPU hogs on 2 cores: 1.5 s per
        // step, 7 steps searched before the deadline and no time left to tune) no model can reach the accuracy below.
        var estimate = System.Text.RegularExpressions.Regex.Match(messages[0], @"-> (\d+) epochs\.$");
        Assert.True(estimate.Success, messages[0]);
        if (int.Parse(estimate.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 2)
            Assert.Skip($"This machine is too busy for the test's 40 s budget: {messages[0]}");
        // The plan is sized to the budget: far fewer than 200 epochs, with the search stage and a tuning stage in it.
        Assert.InRange(model.Report.EpochsPlanned, 1, 199);
        Assert.Contains(model.Report.StoppedBy, new[] { "completed", "time budget" });
        Assert.True(model.Evaluate(Test(ml)).MicroAccuracy > 0.3, $"test accuracy after {model.Report.EpochsCompleted} of {model.Report.EpochsPlanned} epochs ({model.Report.SearchEpochs} searching), {model.Report.StoppedBy}:\n{string.Join("\n", messages)}");
    }

    [Fact]
    public void A_search_slower_than_planned_ends_at_its_deadline_and_the_child_is_tuned()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.RawMessage); };
        var options = Small(epochs: 1);
        options.Epochs = null;
        options.TimeBudget = TimeSpan.FromSeconds(30);
        options.ProgressEverySteps = 1;
        // A search step slowed to over a second, after the plan was sized from fast probes: the search epoch would
        // take longer than the whole budget (a machine that got busy), so only its deadline leaves time for tuning.
        var stages = new List<string>();
        options.Progress = new SynchronousProgress<DiffAutoMLProgress>(p =>
        {
            stages.Add(p.Stage);
            if (p.Stage == "search") Thread.Sleep(1000);
        });
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 3000));
        var report = model.Report;
        Assert.Contains(messages, m => m.StartsWith("Time budget: the search ends during epoch 1, after ", StringComparison.Ordinal));
        Assert.Equal(1, report.SearchEpochs);
        Assert.Equal("search", report.History[0].Stage);
        Assert.Contains("tuning", stages);
    }

    [Fact]
    public void A_time_budget_used_up_before_training_is_a_timeout_error()
    {
        var ml = new MLContext(seed: 1);
        var options = Small(epochs: 1);
        options.Epochs = null;
        options.TimeBudget = TimeSpan.FromSeconds(1); // less than the time kept back for the final evaluation and export
        var error = Assert.Throws<TimeoutException>(() => ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 600)));
        Assert.Contains("ran out before the first training step", error.Message);
        Assert.Contains("TimeBudget", error.Message);
    }

    [Fact]
    public void An_ablation_without_the_search_trains_the_architecture_it_is_given()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.RawMessage); };
        var options = Small(epochs: 1);
        options.Components = DiffAutoMLComponents.Augmentation | DiffAutoMLComponents.HyperParameters;
        options.FixedArchitecture = "xc k5 k7 k3 xc"; // Small's space has 1 + 1 + 2 + 1 layers
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 600));
        Assert.Equal("xc k5 k7 k3 xc", model.Report.Architecture);
        Assert.Equal(0, model.Report.SearchEpochs);
        Assert.Contains(messages, m => m.StartsWith("Fixed architecture: xc k5 k7 k3 xc (", StringComparison.Ordinal));

        options.FixedArchitecture = "xc k5 k7";
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 600)));
        Assert.Contains("3 blocks; the search space has 5 layers", error.Message);
    }

    [Fact]
    public void Bfloat16_is_not_applied_on_the_cpu_and_the_report_says_so()
    {
        // libtorch's CPU bfloat16 convolutions are wrong for some shapes (MixedPrecision.ComputeType); CudaTests runs a
        // bfloat16 Fit on the GPU.
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.RawMessage); };
        var options = Small(epochs: 1);
        options.Components = DiffAutoMLComponents.HyperParameters;
        options.Device = ComputeDevice.Cpu;
        options.Precision = TrainingPrecision.BFloat16;
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 600));
        Assert.Equal("Float32 (BFloat16 applies on CUDA only)", model.Report.Options["Precision"]);
        Assert.Contains(messages, m => m.StartsWith("Precision BFloat16 is not applied on the CPU", StringComparison.Ordinal));
        Assert.Equal(TrainingPrecision.BFloat16, options.Precision); // the caller's options are not changed
    }

    [Fact]
    public void Without_tuning_during_the_search_the_weight_decay_is_learned_from_the_tuning_stage_on()
    {
        var ml = new MLContext(seed: 1);
        var options = Small(epochs: 2);
        options.SearchFraction = 0.5;
        options.HyperParameters = options.HyperParameters with { TuneDuringSearch = false };
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 600));
        var report = model.Report;
        Assert.Equal(1, report.SearchEpochs);
        Assert.Equal("search", report.History[0].Stage);
        Assert.Equal(options.HyperParameters.WeightDecay, report.History[0].WeightDecay, tolerance: 1e-15); // exp(log(x)) may differ in the last bit
        Assert.True(report.HyperParameters.Count > 0, "no hyper-parameter step in the tuning stage");
        Assert.True(Math.Abs(report.History[1].WeightDecay - options.HyperParameters.WeightDecay) > 1e-12, "the weight decay did not move in the tuning stage");
        long firstStep = report.HyperParameters.Min(r => r.Step);
        Assert.True(firstStep >= 3, $"the first hyper-parameter step was step {firstStep}, inside the search epoch");
    }

    [Fact]
    public void A_measured_cost_budget_of_one_returns_the_cheapest_child_on_this_machine()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var options = Small(epochs: 2);
        options.Architecture.MaxRelativeCost = 1;
        using var model = ml.Auto().DiffAutoML(options).Fit(ml.Data.TakeRows(Train(ml), 1500));
        Assert.NotNull(model.Report.RelativeCost);
        // Costs are compared in thousandths of the cheapest child's, so a block within rounding of the cheapest can stand in for it.
        Assert.InRange(model.Report.RelativeCost!.Value, 1, 1.005);
        Assert.Contains(messages, m => m.Contains("Measured every candidate block", StringComparison.Ordinal));
    }

    [Fact]
    public void A_resumed_search_reuses_the_block_costs_measured_before_it_was_stopped()
    {
        var folder = TempFolders.Create("diffautoml-costs").FullName;
        DiffAutoMLOptions Options()
        {
            var options = Small(epochs: 3);
            options.SearchFraction = 1; // still searching after the first epoch, so the costs matter after the resume
            options.Architecture.MaxRelativeCost = 1.2;
            options.CheckpointFolder = folder;
            return options;
        }
        var data = new MLContext(seed: 1).Data.TakeRows(Train(new MLContext(seed: 1)), 1500);
        var first = new MLContext(seed: 1);
        using var cancel = new CancellationTokenSource();
        var stopped = Options();
        stopped.CancellationToken = cancel.Token;
        stopped.Progress = new SynchronousProgress<DiffAutoMLProgress>(p => { if (p.EndOfEpoch) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => first.Auto().DiffAutoML(stopped).Fit(data));

        var second = new MLContext(seed: 1);
        var messages = new List<string>();
        second.Log += (_, e) => { lock (messages) messages.Add(e.RawMessage); };
        using var model = second.Auto().DiffAutoML(Options()).Fit(data);

        Assert.True(model.Report.Resumed);
        Assert.DoesNotContain(messages, m => m.StartsWith("Measured every candidate block", StringComparison.Ordinal));
        Assert.NotNull(model.Report.RelativeCost);
        Assert.InRange(model.Report.RelativeCost!.Value, 1, 1.2 + 0.005);
    }

    [Fact]
    public async Task Same_seed_on_one_cpu_thread_gives_the_same_architecture_and_scores_also_beside_another_fit()
    {
        static float[] Run(int seed)
        {
            var ml = new MLContext(seed: 1);
            var options = Small(epochs: 2);
            (options.Threads, options.Seed) = (1, seed);
            var data = ml.Data.TakeRows(Train(ml), 1500);
            using var model = ml.Auto().DiffAutoML(options).Fit(data);
            return model.Transform(ml.Data.TakeRows(Test(ml), 50)).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues())
                .Append(model.Report.Architecture.GetHashCode()).Append((float)model.Report.ValidationAccuracy).ToArray();
        }
        TorchRuntime.EnsureCpu();
        var original = TorchSharp.torch.get_num_threads();
        // More threads than cores, a count that libtorch never picks itself, so that a Fit that did not put it back would show.
        var outside = Environment.ProcessorCount + 1;
        TorchSharp.torch.set_num_threads(outside);
        try
        {
            var alone = Run(1);
            Assert.Equal(alone, Run(1));
            Assert.Equal(outside, TorchSharp.torch.get_num_threads());
            // Two Fits at once (a server training two models): each draws its own random numbers, and the thread count
            // they both set is put back when the last one ends.
            var both = await Task.WhenAll(Task.Run(() => Run(1)), Task.Run(() => Run(2)));
            Assert.Equal(alone, both[0]);
            Assert.NotEqual(alone, both[1]);
            Assert.Equal(outside, TorchSharp.torch.get_num_threads());
        }
        finally
        {
            TorchSharp.torch.set_num_threads(original);
        }
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
