using System.Text;

namespace DiffAutoML.ML.Tests.Packaging;

/// <summary>
/// Packs DiffAutoML.ML into the repo's local feed and builds a new console app outside the repo that references it
/// as a user would: the TorchSharp loading fix must travel with the package.
/// </summary>
[Collection(HeavyTestsCollection.Name)]
public class PackageConsumerTests
{
    [Fact]
    public void A_new_app_referencing_the_packed_package_loads_data_runs_torch_and_fits()
    {
        Assert.SkipUnless(ProcessRunner.SdkAvailable(), "needs the .NET SDK (not present on the GPU machine)");
        var version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        var feed = Path.Combine(TestPaths.RepoRoot, "artifacts", "feed");
        var timeout = TimeSpan.FromMinutes(8);
        foreach (var project in new[] { "src/DiffAutoML.ML.Scoring", "src/DiffAutoML.ML" })
        {
            var pack = ProcessRunner.Run("dotnet", $"pack {project} -c Release -o \"{feed}\" -p:Version={version}", TestPaths.RepoRoot, timeout);
            Assert.True(pack.ExitCode == 0, pack.Output);
        }

        var app = TempFolders.Create("diffautoml-consumer").FullName;
        try
        {
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><add key="diffautoml-local" value="{feed}" /></packageSources></configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable><NoWarn>NU1603</NoWarn></PropertyGroup>
                  <ItemGroup><PackageReference Include="DiffAutoML.ML" Version="{version}" /></ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using DiffAutoML.ML;
                using DiffAutoML.ML.Api;
                using DiffAutoML.ML.Data;
                using DiffAutoML.ML.Native;
                using DiffAutoML.ML.Search;
                using Microsoft.ML;
                using Microsoft.ML.Data;
                var ml = new MLContext(seed: 1);
                var data = IdxDataset.Load(ml, Path.Combine(args[0], "t10k-images-idx3-ubyte.gz"), Path.Combine(args[0], "t10k-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);
                using (var cache = ImageDataLoader.Load(data, new ImageDataOptions()))
                {
                    TorchRuntime.EnsureCpu();
                    using var sum = cache.Images.sum();
                    Console.WriteLine($"consumer loaded {cache.Count} images, {cache.LabelMapping.ClassCount} classes, pixel sum {sum.item<long>()}");
                }
                // A small but real joint search (all components) through the packed package, then scoring.
                var train = IdxDataset.Load(ml, Path.Combine(args[0], "train-images-idx3-ubyte.gz"), Path.Combine(args[0], "train-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);
                var options = new DiffAutoMLOptions { Epochs = 3, BatchSize = 64 };
                options.SearchSpace.Preset = SearchSpacePreset.Tiny;
                options.Data.ImageColumnName = "Image";
                using var model = ml.Auto().DiffAutoML(options).Fit(train);
                var metrics = model.Evaluate(data);
                Console.WriteLine($"consumer fit {model.Report.Architecture} in {model.Report.History.Count} epochs, accuracy {metrics.MicroAccuracy:F4}");
                ml.Model.Save(model, train.Schema, Path.Combine(args[1], "model.zip"));
                Console.WriteLine("consumer predicted " + string.Join(",", model.Transform(data).GetColumn<string>("PredictedLabel").Take(20)));
                """, Encoding.UTF8);
            var run = ProcessRunner.Run("dotnet", $"run -- \"{TestPaths.Subset}\" \"{app}\"", app, timeout);
            Assert.True(run.ExitCode == 0, run.Output);
            var raw = DiffAutoML.ML.Data.IdxDataset.Read(TestPaths.SubsetFile("t10k-images-idx3-ubyte.gz"), TestPaths.SubsetFile("t10k-labels-idx1-ubyte.gz"));
            Assert.Contains($"consumer loaded 1000 images, 10 classes, pixel sum {raw.Pixels.Sum(b => (long)b)}", run.Output);
            var fit = System.Text.RegularExpressions.Regex.Match(run.Output, @"consumer fit (.+) in 3 epochs, accuracy (\d\.\d+)");
            Assert.True(fit.Success, run.Output);
            // 3 epochs of the tiny space on 5,000 images, tested on the 1,000 others: well above chance (10%) when training works.
            Assert.True(double.Parse(fit.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) > 0.4, fit.Value);

            // A scoring application references the scoring package alone (its dependencies bring ML.NET, ImageAnalytics,
            // OnnxTransformer and ONNX Runtime), loads the saved model and predicts what the training process did.
            var scorer = Directory.CreateDirectory(Path.Combine(app, "scorer")).FullName;
            File.Copy(Path.Combine(app, "nuget.config"), Path.Combine(scorer, "nuget.config"));
            File.WriteAllText(Path.Combine(scorer, "Scorer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable><NoWarn>NU1603</NoWarn></PropertyGroup>
                  <ItemGroup><PackageReference Include="DiffAutoML.ML.Scoring" Version="{version}" /></ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(scorer, "Program.cs"), """
                using System.IO.Compression;
                using DiffAutoML.ML.Scoring;
                using Microsoft.ML;
                using Microsoft.ML.Data;
                var ml = new MLContext();
                var model = ml.LoadDiffAutoMLModel(args[1], out _);
                using var disposeModel = model as IDisposable; // deletes ML.NET's temporary copy of the network
                using var gz = new GZipStream(File.OpenRead(Path.Combine(args[0], "t10k-images-idx3-ubyte.gz")), CompressionMode.Decompress);
                var all = new MemoryStream();
                gz.CopyTo(all);
                var pixels = all.ToArray();
                var engine = ml.Model.CreatePredictionEngine<Input, Output>(model);
                var labels = Enumerable.Range(0, 20).Select(i => engine.Predict(new Input { Image = pixels.AsSpan(16 + i * 784, 784).ToArray() }).PredictedLabel);
                Console.WriteLine("scorer predicted " + string.Join(",", labels));
                public sealed class Input { [VectorType(1, 28, 28)] public byte[] Image { get; set; } = []; }
                public sealed class Output { public string PredictedLabel { get; set; } = ""; }
                """, Encoding.UTF8);
            var score = ProcessRunner.Run("dotnet", $"run -- \"{TestPaths.Subset}\" \"{Path.Combine(app, "model.zip")}\"", scorer, timeout);
            Assert.True(score.ExitCode == 0, score.Output);
            var trained = System.Text.RegularExpressions.Regex.Match(run.Output, "consumer predicted (.+)").Groups[1].Value.Trim();
            var scored = System.Text.RegularExpressions.Regex.Match(score.Output, "scorer predicted (.+)").Groups[1].Value.Trim();
            Assert.True(trained.Split(',').Length == 20, run.Output);
            Assert.Equal(trained, scored);
            Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(scorer, "bin"), "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith("TorchSharp", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(app, recursive: true);
            foreach (var id in new[] { "DiffAutoML.ML", "DiffAutoML.ML.Scoring" })
            {
                File.Delete(Path.Combine(feed, $"{id}.{version}.nupkg"));
                ProcessRunner.RemoveFromNuGetCache(id, version);
            }
        }
    }
}
