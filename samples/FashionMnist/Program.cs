// The README's main job: a DiffAutoML search (augmentation, architecture and hyper-parameters, jointly) on the
// Fashion-MNIST subset shipped in samples/data. It prints progress, evaluates on the shipped test set, saves the
// model (model.zip, model.onnx, report.json), reloads it and predicts a few images.
//
// usage: dotnet run --project samples/FashionMnist [-- --epochs N] [--time-budget SECONDS] [--checkpoint DIR]
//        [--out DIR] [--data DIR] [--components All|None|Augmentation,HyperParameters|...] [--profile Efficient|Paper]
//        [--threads N] [--quiet]
using System.Diagnostics;
using DiffAutoML.ML;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;

var arguments = Arguments.Parse(args);
var dataFolder = arguments.Get("data") ?? FindSubset();
var outFolder = arguments.Get("out") ?? Path.Combine(RepoRoot(dataFolder), "artifacts", "fashion-mnist-run");
Directory.CreateDirectory(outFolder);
var mlContext = new MLContext(seed: 1);

IDataView Load(string prefix) => IdxDataset.Load(mlContext,
    Path.Combine(dataFolder, $"{prefix}-images-idx3-ubyte.gz"), Path.Combine(dataFolder, $"{prefix}-labels-idx1-ubyte.gz"),
    IdxDataset.FashionMnistClassNames);
var train = Load("train");
var test = Load("t10k");

// The Efficient profile: a short search of models that are fast to train, which measured 3 points ahead of the
// paper's settings on this data in less time (docs/benchmarks.md, "Profiles"); --profile Paper runs the paper's.
var profile = arguments.Get("profile") is { } p ? Enum.Parse<DiffAutoMLProfile>(p, ignoreCase: true) : DiffAutoMLProfile.Efficient;
var options = DiffAutoMLOptions.FromProfile(profile);
options.Epochs = arguments.Get("epochs") is { } e ? int.Parse(e) : 40;
options.TimeBudget = arguments.Get("time-budget") is { } t ? TimeSpan.FromSeconds(double.Parse(t)) : null;
options.CheckpointFolder = arguments.Get("checkpoint");
options.Components = arguments.Get("components") is { } c ? Enum.Parse<DiffAutoMLComponents>(c) : DiffAutoMLComponents.All;
options.Threads = arguments.Get("threads") is { } n ? int.Parse(n) : null;
options.ProgressEverySteps = 1000;
options.Data.ImageColumnName = "Image";
options.Data.LabelColumnName = "Label";
if (!arguments.Has("quiet")) options.Progress = new Progress<DiffAutoMLProgress>(p => { if (p.EndOfEpoch) Console.WriteLine(p); });
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.WriteLine("Stopping after the current step; the last epoch's checkpoint stays."); };
options.CancellationToken = cancel.Token;

Console.WriteLine($"DiffAutoML on {dataFolder}: {options.Components}, profile {profile}, {(options.TimeBudget is null ? $"{options.Epochs} epochs" : $"time budget {options.TimeBudget}")}");
var clock = Stopwatch.StartNew();
using var model = mlContext.Auto().DiffAutoML(options).Fit(train); // disposing deletes the network's temporary file
var report = model.Report;
Console.WriteLine($"Search done in {clock.Elapsed:mm\\:ss}: {report.Architecture} ({report.MFlops:F2} MFLOPs, {report.Parameters:N0} parameters), " +
    $"validation accuracy {report.ValidationAccuracy:P2}");

var metrics = model.Evaluate(test);
Console.WriteLine($"Test accuracy {metrics.MicroAccuracy:P2} (macro {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F3}) on {test.GetRowCount()} images");

var modelPath = Path.Combine(outFolder, "model.zip");
mlContext.Model.Save(model, train.Schema, modelPath);
model.SaveOnnx(Path.Combine(outFolder, "model.onnx"));
File.WriteAllText(Path.Combine(outFolder, "report.json"), report.ToJson());
File.WriteAllText(Path.Combine(outFolder, "test-accuracy.txt"), metrics.MicroAccuracy.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
Console.WriteLine($"Saved {modelPath}, model.onnx and report.json in {outFolder}");

// Reload as an application would (only ML.NET, ONNX Runtime and DiffAutoML.ML.Scoring are needed) and predict.
var scoring = new MLContext(seed: 2);
var loaded = scoring.LoadDiffAutoMLModel(modelPath, out _);
using var disposeLoaded = loaded as IDisposable; // a loaded chain is disposable too: that deletes ML.NET's copy of the network
var engine = scoring.Model.CreatePredictionEngine<FashionImage, FashionPrediction>(loaded);
var examples = mlContext.Data.CreateEnumerable<FashionImage>(test, reuseRowObject: false).Take(5).ToArray();
foreach (var example in examples)
{
    var prediction = engine.Predict(example);
    Console.WriteLine($"  true {example.Label,-12} predicted {prediction.PredictedLabel,-12} ({prediction.Score.Max():P1})");
}
return 0;

static string FindSubset()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "samples", "data", "fashion-mnist-subset");
        if (Directory.Exists(candidate)) return candidate;
    }
    throw new DirectoryNotFoundException("samples/data/fashion-mnist-subset not found; pass --data DIR.");
}

static string RepoRoot(string dataFolder)
{
    for (var dir = new DirectoryInfo(dataFolder); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "DiffAutoML.ML.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

internal sealed class FashionImage
{
    [VectorType(1, 28, 28)]
    public byte[] Image { get; set; } = Array.Empty<byte>();

    public string Label { get; set; } = "";
}

internal sealed class FashionPrediction
{
    public string PredictedLabel { get; set; } = "";

    public float[] Score { get; set; } = Array.Empty<float>();
}

internal sealed record Arguments(Dictionary<string, string?> Values)
{
    public static Arguments Parse(string[] args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            var key = args[i][2..];
            values[key] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
        }
        return new Arguments(values);
    }

    public string? Get(string key) => Values.GetValueOrDefault(key);

    public bool Has(string key) => Values.ContainsKey(key);
}
