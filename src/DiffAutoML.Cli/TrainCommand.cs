using System.Diagnostics;
using DiffAutoML.ML;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Search;
using Microsoft.ML;
using Spectre.Console;

namespace DiffAutoML.Cli;

/// <summary>diffautoml train: search, then write model.zip, model.onnx, report.json and report.html.</summary>
internal static class TrainCommand
{
    private static readonly HashSet<string> Flags = new() { "fashion-mnist", "fresh", "quiet" };

    public static int Run(string[] args)
    {
        var line = new CommandLine(args, Flags);
        if (line.Positional.Count != 1) throw new UsageException("train needs exactly one data folder or IDX file.");
        var outFolder = Path.GetFullPath(line.Text("out") ?? "diffautoml-output");
        var testPath = line.Text("test");
        bool fashion = line.Flag("fashion-mnist"), fresh = line.Flag("fresh"), quiet = line.Flag("quiet");
        // The profile first: every option given on the command line then overrides its value.
        var options = line.ParseObject("profile", s => DiffAutoMLOptions.FromProfile(Enum.Parse<DiffAutoMLProfile>(s, ignoreCase: true)))
            ?? new DiffAutoMLOptions();
        options.Epochs = line.Parse("epochs", int.Parse) ?? (line.Text("time-budget") is null ? 30 : null);
        options.TimeBudget = line.Parse("time-budget", CommandLine.Duration);
        options.Device = line.Parse("device", s => Enum.Parse<ComputeDevice>(s, ignoreCase: true)) ?? ComputeDevice.Auto;
        options.Components = line.Parse("components", s => Enum.Parse<DiffAutoMLComponents>(s, ignoreCase: true)) ?? DiffAutoMLComponents.All;
        options.BatchSize = line.Parse("batch", int.Parse) ?? 128;
        options.Seed = line.Parse("seed", int.Parse) ?? 1;
        options.Threads = line.Parse("threads", int.Parse);
        if (line.Parse("tune-allocator", bool.Parse) is bool tuneAllocator) options.TuneNativeAllocator = tuneAllocator;
        options.CudnnBenchmark = line.Parse("cudnn-benchmark", bool.Parse);
        options.Precision = line.Parse("precision", s => Enum.TryParse<TrainingPrecision>(s, ignoreCase: true, out var p) && Enum.IsDefined(p) ? p
            : throw new FormatException("expected Float32 or BFloat16")) ?? TrainingPrecision.Float32;
        options.CheckpointFolder = Path.Combine(outFolder, "checkpoints");
        options.ProgressEverySteps = 10;
        options.FixedArchitecture = line.Text("architecture");
        if (options.FixedArchitecture is not null && options.Components.HasFlag(DiffAutoMLComponents.Architecture))
            throw new UsageException("--architecture fixes the network, so --components must leave out Architecture (e.g. --components Augmentation,HyperParameters).");
        options.SearchSpace.Preset = line.Parse("preset", s => Enum.Parse<SearchSpacePreset>(s, ignoreCase: true)) ?? SearchSpacePreset.Compact;
        if (line.Parse("size", int.Parse) is int size) (options.Data.Height, options.Data.Width) = (size, size);
        options.Data.Channels = line.Parse("channels", int.Parse);
        _ = line.Parse("width", s => // inside Parse, so that an out-of-range multiplier is reported as a usage error
        {
            double width = double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
            options.SearchSpace = options.SearchSpace.Widened(width);
            return width;
        });
        _ = line.ParseObject("repeats", s => // before the strides: they are checked against its number of stages
        {
            var repeats = s.Split(',').Select(int.Parse).ToArray();
            int stages = options.SearchSpace.Resolve().StageChannels!.Count;
            if (repeats.Length != stages || repeats.Any(r => r is < 1 or > 32))
                throw new FormatException($"needs {stages} layer counts (one per stage), each from 1 to 32");
            options.SearchSpace = options.SearchSpace with { StageRepeats = repeats };
            return repeats;
        });
        _ = line.ParseObject("stage-strides", s => // inside the parse, so that a wrong list is a usage error before the data is read
        {
            var strides = s.Split(',').Select(int.Parse).ToArray();
            int stages = options.SearchSpace.Resolve().StageRepeats!.Count;
            if (strides.Length != stages || strides.Any(x => x is not (1 or 2)))
                throw new FormatException($"needs {stages} strides (one per stage), each 1 or 2");
            options.SearchSpace = options.SearchSpace with { StageStrides = strides };
            return strides;
        });
        if (line.Parse("learning-rate", s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)) is double rate)
            options.HyperParameters = options.HyperParameters with { LearningRate = rate };
        if (line.Parse("weight-decay", s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)) is double decay)
            options.HyperParameters = options.HyperParameters with { WeightDecay = decay };
        _ = line.Parse("search-fraction", s => // inside Parse, so that a value outside (0, 1] is reported as a usage error
        {
            double fraction = double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
            if (fraction is not (> 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "must be in (0, 1]");
            options.SearchFraction = fraction;
            return fraction;
        });
        if (line.Parse("tune-during-search", bool.Parse) is bool tuneDuringSearch)
            options.HyperParameters = options.HyperParameters with { TuneDuringSearch = tuneDuringSearch };
        if (line.Parse("hpo-every", int.Parse) is int hpoEvery)
            options.HyperParameters = options.HyperParameters with { UpdateEvery = hpoEvery };
        if (line.Parse("shared-kernels", bool.Parse) is bool sharedKernels)
            options.SearchSpace = options.SearchSpace with { SharedKernels = sharedKernels };
        if (line.Parse("crop-padding", int.Parse) is int padding)
            options.Augmentation = options.Augmentation with { RandomCropPadding = padding };
        if (line.Parse("flip", bool.Parse) is bool flip)
            options.Augmentation = options.Augmentation with { RandomFlip = flip };
        if (line.Parse("test-time-flip", bool.Parse) is bool testTimeFlip)
            options.Augmentation = options.Augmentation with { TestTimeFlip = testTimeFlip };
        if (line.Parse("test-time-shift", bool.Parse) is bool testTimeShift)
            options.Augmentation = options.Augmentation with { TestTimeShift = testTimeShift };
        if (line.Parse("cutout", int.Parse) is int cutout)
            options.Augmentation = options.Augmentation with { CutoutSize = cutout };
        if (line.Parse("max-mflops", s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)) is double maxMFlops)
            options.Architecture.MaxMFlops = maxMFlops;
        if (line.Parse("max-relative-cost", s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)) is double maxRelativeCost)
            options.Architecture.MaxRelativeCost = maxRelativeCost;
        if (line.Parse("sample-within-budget", bool.Parse) is bool withinBudget)
            options.Architecture.SampleWithinBudget = withinBudget;
        // The block names of --architecture; an empty list or a repeated name is the options' own error below.
        if (line.ParseObject("candidates", s => BlockChoices.Parse(s).Select(c => (BlockChoice)c).ToArray()) is { } candidates)
            options.Architecture.Candidates = candidates;
        line.RejectUnknown();
        try
        {
            options.Validate(); // before the data is read: a bad value is a usage error, not a crash after minutes of loading
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message.ReplaceLineEndings(" "));
        }

        var ml = new MLContext(seed: options.Seed) { GpuDeviceId = options.Device == ComputeDevice.Cpu ? null : 0, FallbackToCpu = options.Device != ComputeDevice.Cuda };
        var (train, imageColumn) = DataSource.Load(ml, line.Positional[0], fashion);
        IDataView? test = null;
        if (testPath is not null)
        {
            (test, var testColumn) = DataSource.Load(ml, testPath, fashion);
            if (testColumn != imageColumn) throw new UsageException("--test must be the same kind of data as the training data (both folders or both IDX files).");
            DataSource.CheckTestClasses(train, test, line.Positional[0], testPath);
        }
        options.Data.ImageColumnName = imageColumn;
        options.Data.LabelColumnName = "Label";
        Directory.CreateDirectory(outFolder);
        if (fresh && Directory.Exists(options.CheckpointFolder)) Directory.Delete(options.CheckpointFolder, recursive: true);

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        options.CancellationToken = cancel.Token;
        ml.Log += (_, e) =>
        {
            // RawMessage: Message starts with "[Source=..., Kind=...]", so testing it for the progress lines' "[stage]" hid every line.
            if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.StartsWith("DiffAutoML", StringComparison.Ordinal) && !e.RawMessage.StartsWith("[", StringComparison.Ordinal))
                AnsiConsole.MarkupLineInterpolated($"[grey]{e.RawMessage}[/]");
        };

        var clock = Stopwatch.StartNew();
        DiffAutoMLTransformer model;
        try
        {
            model = quiet || !AnsiConsole.Profile.Capabilities.Interactive ? FitWithLines(ml, options, train, quiet) : FitWithProgressBar(ml, options, train);
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]Stopped.[/] The last finished epoch is saved in {options.CheckpointFolder}; run the same command again to continue.");
            return 130;
        }

        using var ownedModel = model; // deletes the network's temporary file (DiffAutoMLTransformer.Dispose)
        var report = model.Report;
        var modelPath = Path.Combine(outFolder, "model.zip");
        ml.Model.Save(model, train.Schema, modelPath);
        model.SaveOnnx(Path.Combine(outFolder, "model.onnx"));
        File.WriteAllText(Path.Combine(outFolder, "report.json"), report.ToJson());
        Microsoft.ML.Data.MulticlassClassificationMetrics? metrics = null;
        File.Delete(Path.Combine(outFolder, "test-metrics.json"));
        if (test is not null)
        {
            // Scoring a test folder of large photos decodes each at full size: minutes for thousands of them.
            if (!quiet) Console.WriteLine($"Scoring the test data{(test.GetRowCount() is long rows ? $" ({rows:N0} images)" : "")} in {testPath}.");
            metrics = model.Evaluate(test);
            var testMetrics = DiffAutoML.ML.Reporting.TestMetricsConversion.ToTestMetrics(metrics);
            File.WriteAllText(Path.Combine(outFolder, "test-metrics.json"), System.Text.Json.JsonSerializer.Serialize(testMetrics));
        }
        var html = ReportRenderer.Render(outFolder);

        var table = new Table().AddColumns("", "");
        table.AddRow("architecture", report.Architecture);
        table.AddRow("size", $"{report.MFlops:F2} MFLOPs, {report.Parameters:N0} parameters");
        table.AddRow("validation accuracy", $"{report.ValidationAccuracy:P2} (epoch {report.ReturnedEpoch}, {report.StoppedBy})" +
            (report.TestTimeViewsValidationAccuracy is double averaged ? $"; {averaged:P2} with test-time views" : ""));
        if (metrics is not null) table.AddRow("test accuracy", $"{metrics.MicroAccuracy:P2} (macro {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F3})");
        table.AddRow("time", $"{clock.Elapsed:hh\\:mm\\:ss} on {report.Device}");
        table.AddRow("written", $"{modelPath}\n{Path.Combine(outFolder, "model.onnx")}\n{Path.Combine(outFolder, "report.json")}\n{html ?? "(report.html not written: see above)"}");
        AnsiConsole.Write(table);
        return 0;
    }

    private static DiffAutoMLTransformer FitWithLines(MLContext ml, DiffAutoMLOptions options, IDataView train, bool quiet)
    {
        options.Progress = new SynchronousProgress(p => { if (!quiet && p.EndOfEpoch) Console.WriteLine(p); });
        return ml.Auto().DiffAutoML(options).Fit(train);
    }

    private static DiffAutoMLTransformer FitWithProgressBar(MLContext ml, DiffAutoMLOptions options, IDataView train)
    {
        DiffAutoMLTransformer? model = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("loading images", maxValue: 1);
                options.Progress = new SynchronousProgress(p =>
                {
                    task.MaxValue = p.Steps;
                    task.Value = p.Step;
                    var validation = double.IsNaN(p.ValidationAccuracy) ? "" : $" val {p.ValidationAccuracy:P1}";
                    task.Description = Markup.Escape($"{p.Stage} {p.Epoch}/{p.Epochs} acc {p.TrainAccuracy:P1}{validation} lr {p.LearningRate:G2} wd {p.WeightDecay:G2} {p.Architecture}");
                    if (p.EndOfEpoch) AnsiConsole.MarkupLineInterpolated($"[grey]{p.ToString()}[/]");
                });
                model = ml.Auto().DiffAutoML(options).Fit(train);
                task.Value = task.MaxValue;
            });
        return model!;
    }

    private sealed class SynchronousProgress(Action<DiffAutoMLProgress> report) : IProgress<DiffAutoMLProgress>
    {
        public void Report(DiffAutoMLProgress value) => report(value);
    }
}
