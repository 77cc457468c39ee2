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
    public void A_new_app_referencing_the_packed_package_loads_data_and_runs_torch()
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

        var app = Directory.CreateTempSubdirectory("diffautoml-consumer").FullName;
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
                using DiffAutoML.ML.Data;
                using DiffAutoML.ML.Native;
                using Microsoft.ML;
                var ml = new MLContext(seed: 1);
                var data = IdxDataset.Load(ml, Path.Combine(args[0], "t10k-images-idx3-ubyte.gz"), Path.Combine(args[0], "t10k-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);
                using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
                TorchRuntime.EnsureCpu();
                using var sum = cache.Images.sum();
                Console.WriteLine($"consumer loaded {cache.Count} images, {cache.LabelMapping.ClassCount} classes, pixel sum {sum.item<long>()}");
                """, Encoding.UTF8);
            var run = ProcessRunner.Run("dotnet", $"run -- \"{TestPaths.Subset}\"", app, timeout);
            Assert.True(run.ExitCode == 0, run.Output);
            var raw = DiffAutoML.ML.Data.IdxDataset.Read(TestPaths.SubsetFile("t10k-images-idx3-ubyte.gz"), TestPaths.SubsetFile("t10k-labels-idx1-ubyte.gz"));
            Assert.Contains($"consumer loaded 1000 images, 10 classes, pixel sum {raw.Pixels.Sum(b => (long)b)}", run.Output);
        }
        finally
        {
            Directory.Delete(app, recursive: true);
            foreach (var id in new[] { "DiffAutoML.ML", "DiffAutoML.ML.Scoring" })
            {
                File.Delete(Path.Combine(feed, $"{id}.{version}.nupkg"));
                var cached = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), id.ToLowerInvariant(), version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
        }
    }
}
