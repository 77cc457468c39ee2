using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Reporting;
using DiffAutoML.ML.Search;
using DiffAutoML.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace DiffAutoML.ML.Api;

/// <summary>
/// The DiffAutoML estimator: <see cref="Fit"/> searches the augmentation policy, the architecture and the training
/// hyper-parameters jointly while training one network, and returns that network ready to deploy (no retraining).
/// </summary>
public sealed class DiffAutoMLEstimator : IEstimator<DiffAutoMLTransformer>
{
    private readonly MLContext _mlContext;
    private readonly DiffAutoMLOptions _options;

    /// <summary>Creates the estimator; <paramref name="options"/> is copied and validated.</summary>
    public DiffAutoMLEstimator(MLContext mlContext, DiffAutoMLOptions? options = null)
    {
        _mlContext = mlContext ?? throw new ArgumentNullException(nameof(mlContext));
        _options = (options ?? new DiffAutoMLOptions()).Copy();
        _options.Validate();
    }

    /// <summary>A copy of the options in use.</summary>
    public DiffAutoMLOptions Options => _options.Copy();

    /// <summary>
    /// Checks that the image and label columns exist with usable types (messages name the column and the expected
    /// type) and describes the output: the input columns plus Score (vector of Single with slot names) and PredictedLabel.
    /// </summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var data = _options.Data;
        var image = Find(inputSchema, data.ImageColumnName, "image");
        bool imageOk = image.Kind == SchemaShape.Column.VectorKind.Scalar
            ? image.ItemType is TextDataViewType or ImageDataViewType
            : image.ItemType == NumberDataViewType.Byte || image.ItemType == NumberDataViewType.Single;
        if (!imageOk)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The image column '{image.Name}' has type {Describe(image)}; expected MLImage, " +
                "text (an image path), Vector<Byte> (encoded image bytes or pixels) or Vector<Single> (pixels).");
        var label = Find(inputSchema, data.LabelColumnName, "label");
        if (label.Kind != SchemaShape.Column.VectorKind.Scalar || !(label.IsKey || label.ItemType is TextDataViewType or BooleanDataViewType or NumberDataViewType))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{label.Name}' has type {Describe(label)}; expected a key, text, number or boolean scalar.");
        var labelType = label.IsKey ? typeof(uint) : label.ItemType is TextDataViewType ? typeof(string) : label.ItemType.RawType;
        var method = typeof(DiffAutoMLEstimator).GetMethod(nameof(OutputShape), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return (SchemaShape)method.MakeGenericMethod(labelType).Invoke(this, new object[] { inputSchema, label })!;
    }

    private SchemaShape OutputShape<TLabel>(SchemaShape input, SchemaShape.Column label)
    {
        var definition = SchemaDefinition.Create(typeof(ScoreAndLabel<TLabel>));
        if (label.IsKey) definition[nameof(ScoreAndLabel<TLabel>.PredictedLabel)].ColumnType = new KeyDataViewType(typeof(uint), 1);
        IEstimator<ITransformer> columns = _mlContext.Transforms.CustomMapping<NoColumns, ScoreAndLabel<TLabel>>((_, _) => { }, null, outputSchemaDefinition: definition);
        // A key label's PredictedLabel carries the label's key values, as ML.NET's trainers describe it, so that a
        // pipeline can go on with MapKeyToValue("PredictedLabel") (SchemaShape's constructor is internal: a copy of the
        // label's shape is the public way to describe a column with annotations; the model's key is UInt32, as
        // MapValueToKey's, so only such a label's shape describes it).
        if (label.IsKey && label.ItemType == NumberDataViewType.UInt32) columns = columns.Append(_mlContext.Transforms.CopyColumns(nameof(ScoreAndLabel<TLabel>.PredictedLabel), label.Name));
        // Score is a vector of known size with slot names (the class names), as the fitted chain gives it; the public
        // way to describe exactly that is ML.NET's own Concatenate of scalar columns (two stand-ins, dropped after it).
        columns = columns
            .Append(_mlContext.Transforms.CustomMapping<NoColumns, ScoreSlots>((_, _) => { }, null))
            .Append(_mlContext.Transforms.Concatenate(nameof(ScoreAndLabel<TLabel>.Score), ScoreSlots.First, ScoreSlots.Second))
            .Append(_mlContext.Transforms.DropColumns(ScoreSlots.First, ScoreSlots.Second));
        return columns.GetOutputSchema(input);
    }

    private static SchemaShape.Column Find(SchemaShape schema, string name, string role)
    {
        // The last column of a name is the visible one (later transforms hide earlier columns).
        var matches = schema.Where(c => c.Name == name).ToArray();
        if (matches.Length > 0) return matches[^1];
        var present = string.Join(", ", schema.Select(c => $"'{c.Name}' ({Describe(c)})"));
        throw new ArgumentOutOfRangeException(nameof(schema), $"The {role} column '{name}' is not in the data. Columns present: {present}.");
    }

    private static string Describe(SchemaShape.Column c)
        => (c.IsKey ? "Key<" : "") + c.ItemType + (c.IsKey ? ">" : "") + c.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => " vector",
            SchemaShape.Column.VectorKind.VariableVector => " variable-size vector",
            _ => "",
        };

    /// <summary>How often loading images reports how far it has come (a quick load says nothing).</summary>
    private static readonly TimeSpan LoadingProgressInterval = TimeSpan.FromSeconds(10);

    /// <summary>Runs the joint search on <paramref name="input"/> and returns the deployable model.</summary>
    /// <exception cref="InvalidOperationException">
    /// Among others: CUDA requested and not usable (without FallbackToCpu), or training ran out of memory on the device
    /// (the message names the device and the batch sizes).
    /// </exception>
    public DiffAutoMLTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var clock = Stopwatch.StartNew();
        var options = _options.Copy();
        var host = ((IHostEnvironment)_mlContext).Register("DiffAutoML");
        using var channel = host.Start("Fit");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);

        // Fail fast on the schema, before any decoding or training.
        var reader = new ImageColumnReader(input.Schema, options.Data);
        var scoringKind = reader.Kind;
        _ = new LabelColumnReader(input.Schema, options.Data.LabelColumnName);

        using var threads = TorchThreadCount.Set(options.Threads);
        using var allocator = NativeAllocator.DuringFit(options.TuneNativeAllocator);
        var device = DeviceSelector.Select(options.Device, _mlContext, Log);
        using var cudnnBenchmark = CudnnBenchmarkMode.Set(device.type == TorchSharp.DeviceType.CUDA ? options.CudnnBenchmark : null, Log);
        var computeType = MixedPrecision.ComputeType(options.Precision, device, Log);
        Log($"Loading images from column '{options.Data.ImageColumnName}' ({scoringKind}) and labels from '{options.Data.LabelColumnName}'.");
        var automaticMaxSide = options.Data.AutomaticMaxSide ?? options.SearchSpace.AutomaticInputSide;
        using var trainCache = ImageDataLoader.Load(input, options.Data with { AutomaticMaxSide = automaticMaxSide }, null, options.CancellationToken,
            new LoadingProgress(Log, input.GetRowCount(), LoadingProgressInterval));
        CheckPixelVectorShape(reader, trainCache);
        if (trainCache.ScaledDownFrom is var (typicalHeight, typicalWidth))
            Log($"A typical image is {typicalWidth}x{typicalHeight} (width x height; the median aspect ratio of the first {ImageDataLoader.TypicalSizeRows} rows): images are resized to {trainCache.Width}x{trainCache.Height} for training and by the " +
                $"returned model (at most {automaticMaxSide} pixels on the longer side{(options.Data.AutomaticMaxSide is null ? $" for the {options.SearchSpace.Preset} search space" : "")}; set Data.Height and Data.Width to choose the size).");
        ImageTensorCache? separateValidation = null;
        try
        {
            int[] trainRows, validationRows;
            if (options.ValidationData is { } validationData)
            {
                Log("Loading the validation images.");
                separateValidation = ImageDataLoader.Load(validationData, options.Data with { Height = trainCache.Height, Width = trainCache.Width, Channels = trainCache.Channels },
                    trainCache.LabelMapping, options.CancellationToken, new LoadingProgress(Log, validationData.GetRowCount(), LoadingProgressInterval));
                trainRows = Enumerable.Range(0, trainCache.Count).ToArray();
                validationRows = Enumerable.Range(0, separateValidation.Count).ToArray();
            }
            else
            {
                (trainRows, validationRows) = StratifiedSplit.Split(trainCache.Labels, trainCache.LabelMapping.ClassCount, options.ValidationFraction, options.Seed);
            }
            if (validationRows.Length == 0) throw new InvalidOperationException("The validation part is empty: add rows, raise ValidationFraction or pass ValidationData.");
            if (trainRows.Length < 2) throw new InvalidOperationException($"Only {trainRows.Length} training image(s) remain after the validation split.");
            var statistics = ChannelStatistics.Compute(trainCache.Images, trainRows);
            var space = new SearchSpace(options.SearchSpace with
            {
                InputChannels = trainCache.Channels, Height = trainCache.Height, Width = trainCache.Width, Classes = trainCache.LabelMapping.ClassCount,
            });
            Log($"{trainRows.Length} training and {validationRows.Length} validation images, {trainCache.LabelMapping.ClassCount} classes, " +
                $"{trainCache.Channels}x{trainCache.Height}x{trainCache.Width}; {space.Layers.Count} choice layers; device {device}; components {options.Components}.");
            if (device.type == TorchSharp.DeviceType.CPU)
                StepMemoryCheck.ThrowIfTooLarge(space, Math.Min(options.BatchSize, trainRows.Length), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
            var setup = new JointSearchSetup(options, space, device, computeType, trainCache, trainRows, separateValidation ?? trainCache, validationRows, statistics,
                // Only checkpoints use the fingerprint, and it hashes the pixels.
                options.CheckpointFolder is null ? "" : Fingerprint(options, space, trainRows.Length, validationRows.Length, trainCache, separateValidation), clock, Log);
            JointSearchOutcome outcome;
            try
            {
                using var search = new JointSearch(setup);
                outcome = search.Run();
            }
            catch (ExternalException e) when (TorchFailure.IsOutOfMemory(e))
            {
                // A batch that does not fit is the user's to change; libtorch's own text does not say which setting.
                throw TorchFailure.OutOfMemory(e, device, options.BatchSize, options.EffectiveValidationBatchSize);
            }
            using var child = outcome.Child;

            var input0 = new ScoringInput(reader.Column.Name, scoringKind, options.Data.ImageFolder, trainCache.Channels, trainCache.Height, trainCache.Width,
                options.Data.PixelVectorLayout, (reader.Column.Type as VectorDataViewType)?.ItemType == NumberDataViewType.Byte);
            var views = Augmentation.TestTimeViews.From(options.Augmentation);
            // The class names travel inside the ONNX model as the Score column's slot names (GetSlotNames after Load).
            var chainOnnx = OnnxExporter.Export(child, statistics, input0.PixelLayout, ScoringChainBuilder.PixelsColumn, ScoringChainBuilder.LogitsColumn, ScoringChainBuilder.ProbabilitiesColumn, views,
                trainCache.LabelMapping.ClassNames, anyInputLength: ScoringChainBuilder.ChecksPixelValues(input0));
            var standalone = OnnxExporter.Export(child, statistics, input0.PixelLayout, views, trainCache.LabelMapping.ClassNames);
            var chain = ScoringChainBuilder.Fit(_mlContext, input0, chainOnnx, trainCache.LabelMapping, reader.Column.Type, input);
            var report = new DiffAutoMLReport
            {
                Architecture = child.Architecture,
                MFlops = child.MultiplyAdds / 1e6,
                RelativeCost = outcome.RelativeCost,
                Parameters = child.ParameterCount,
                Classes = trainCache.LabelMapping.ClassNames.ToArray(),
                InputShape = $"{trainCache.Channels}x{trainCache.Height}x{trainCache.Width}",
                SubPolicies = outcome.SubPolicies,
                Components = options.Components.ToString(),
                Device = device.ToString(),
                TrainImages = trainRows.Length,
                ValidationImages = validationRows.Length,
                SkippedRows = trainCache.SkippedRows,
                EpochsPlanned = outcome.PlannedEpochs,
                EpochsCompleted = outcome.EpochsCompleted,
                SearchEpochs = outcome.SearchEpochs,
                StoppedBy = outcome.StoppedBy,
                ReturnedEpoch = outcome.ReturnedEpoch,
                ValidationAccuracy = outcome.ValidationAccuracy,
                ValidationLoss = outcome.ValidationLoss,
                TestTimeViewsValidationAccuracy = outcome.TestTimeViewsValidationAccuracy,
                SearchSeconds = outcome.SearchSeconds,
                TuningSeconds = outcome.TuningSeconds,
                TotalSeconds = clock.Elapsed.TotalSeconds,
                Resumed = outcome.Resumed,
                History = outcome.History,
                HyperParameters = outcome.HyperParameters,
                Options = OptionSummary(options, space, device.type == TorchSharp.DeviceType.CUDA, computeType),
            };
            Log($"Done in {clock.Elapsed:hh\\:mm\\:ss}: {report.Architecture} ({report.MFlops:F2} MFLOPs, {report.Parameters} parameters), " +
                $"validation accuracy {report.ValidationAccuracy:P2}{(report.TestTimeViewsValidationAccuracy is double averaged ? $", {averaged:P2} with test-time views" : "")} ({report.StoppedBy}).");
            return new DiffAutoMLTransformer(_mlContext, chain, standalone, trainCache.LabelMapping, input0, report);
        }
        finally
        {
            separateValidation?.Dispose();
        }
    }

    private static void CheckPixelVectorShape(ImageColumnReader reader, ImageTensorCache cache)
    {
        if (reader.PixelShape is not { } shape) return;
        if (shape != (cache.Channels, cache.Height, cache.Width))
            throw new ArgumentOutOfRangeException(nameof(ImageDataOptions),
                $"The pixel-vector column '{reader.Column.Name}' holds {shape.Channels}x{shape.Height}x{shape.Width} images but training uses " +
                $"{cache.Channels}x{cache.Height}x{cache.Width}: the deployable model cannot resize or recolour pixel vectors, so leave Height, Width and Channels at the column's shape.");
    }

    private static string Fingerprint(DiffAutoMLOptions o, SearchSpace space, int train, int validation, ImageTensorCache cache, ImageTensorCache? validationCache)
    {
        var text = JsonSerializer.Serialize(new
        {
            // Bumped when what a checkpoint holds changes meaning, so an older checkpoint is refused, not misread
            // (2: shared projections stored as a list; Z gates only the candidate's own channels; 3: alpha's and tau's
            // optimizer state written by LogitOptimizer, not TorchSharp's optimizers; 4: the data's content hash).
            CheckpointFormat = 4,
            o.Components, o.FixedArchitecture, o.Epochs, o.SearchFraction, o.WarmupEpochs, o.BatchSize, o.ValidationBatchSize, o.LabelSmoothing,
            o.ValidationFraction, o.RecalibrationBatches, o.Seed, Augmentation = o.Augmentation with { Operations = o.Augmentation.ResolveOperations() },
            o.Architecture, o.HyperParameters, Space = space.Options, train, validation, cache.Channels, cache.Height, cache.Width,
            Data = cache.ContentHash(), ValidationData = validationCache?.ContentHash(), cache.Count,
        });
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static IReadOnlyDictionary<string, string> OptionSummary(DiffAutoMLOptions o, SearchSpace space, bool onCuda, TorchSharp.torch.ScalarType? computeType)
    {
        var so = space.Options;
        return new SortedDictionary<string, string>
        {
            ["Components"] = o.Components.ToString(),
            ["FixedArchitecture"] = o.FixedArchitecture ?? "",
            ["Epochs"] = o.Epochs?.ToString() ?? "",
            ["TimeBudget"] = o.TimeBudget?.ToString() ?? "",
            ["SearchFraction"] = o.SearchFraction.ToString("G4"),
            ["WarmupEpochs"] = o.WarmupEpochs.ToString("G4"),
            ["BatchSize"] = o.BatchSize.ToString(),
            ["ValidationBatchSize"] = o.EffectiveValidationBatchSize.ToString(),
            ["LabelSmoothing"] = o.LabelSmoothing.ToString("G4"),
            ["ValidationFraction"] = o.ValidationData is null ? o.ValidationFraction.ToString("G4") : "separate data",
            ["Seed"] = o.Seed.ToString(),
            ["Device"] = o.Device.ToString(),
            // What training ran in (BFloat16 applies on CUDA only: MixedPrecision.ComputeType).
            ["Precision"] = computeType is null && o.Precision != TrainingPrecision.Float32 ? $"Float32 ({o.Precision} applies on CUDA only)" : o.Precision.ToString(),
            // The count the CPU work ran with (TorchSharp's own default unless Threads was set).
            ["Threads"] = TorchSharp.torch.get_num_threads().ToString(),
            // The mode cuDNN ran with (libtorch's own unless CudnnBenchmark was set); the CPU has no cuDNN.
            ["CudnnBenchmark"] = onCuda ? LibtorchContextFlag.CudnnBenchmark.Get()?.ToString() ?? "unknown" : "not used (CPU)",
            ["SearchSpace"] = $"{so.Preset}: stem {so.StemChannels}/{so.StemStride}, repeats [{string.Join(",", so.StageRepeats!)}], channels [{string.Join(",", so.StageChannels!)}], tail {so.TailChannels}, shared projections {so.SharedProjections}, shared kernels {so.SharedKernels}, stage strides [{string.Join(",", so.StageStrides!)}]",
            ["Augmentation"] = $"{o.Augmentation.ResolveOperations().Count} operations, lr {o.Augmentation.LearningRate:G3}, momentum {o.Augmentation.Momentum:G3}, decay {o.Augmentation.WeightDecay:G3}; fixed: crop padding {o.Augmentation.RandomCropPadding}, flip {o.Augmentation.RandomFlip}, cutout {o.Augmentation.CutoutSize}; test-time flip {o.Augmentation.TestTimeFlip}, test-time shift {o.Augmentation.TestTimeShift}",
            ["Architecture"] = $"{o.Architecture.Optimizer} lr {o.Architecture.LearningRate:G3}, early fix {o.Architecture.EarlyFixMargin:G3}, MaxMFlops {o.Architecture.MaxMFlops?.ToString("G4") ?? "none"}, MaxParameters {o.Architecture.MaxParameters?.ToString() ?? "none"}, MaxRelativeCost {o.Architecture.MaxRelativeCost?.ToString("G4") ?? "none"}, sample within budget {o.Architecture.SampleWithinBudget}, candidates {(o.Architecture.Candidates is { } candidates ? string.Join(" ", candidates.Select(c => c.ShortName())) : "all")}",
            ["HyperParameters"] = $"lr {o.HyperParameters.LearningRate:G3}, momentum {o.HyperParameters.Momentum:G3}, weight decay {o.HyperParameters.WeightDecay:G3}, tune decay {o.HyperParameters.TuneWeightDecay}, tune lr {o.HyperParameters.TuneLearningRate}, every {o.HyperParameters.UpdateEvery}, during search {o.HyperParameters.TuneDuringSearch}",
        };
    }
}
