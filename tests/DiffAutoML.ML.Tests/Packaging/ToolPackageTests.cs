namespace DiffAutoML.ML.Tests.Packaging;

/// <summary>
/// Packs the command-line tool, installs it from a local feed as a user would (`dotnet tool install`), and runs
/// `--help`, a short `train` on a folder of PNG files and `predict` with the installed copy: the package must carry the TorchSharp loading
/// fix and the report renderer.
/// </summary>
[Collection(HeavyTestsCollection.Name)]
public class ToolPackageTests
{
    [Fact]
    public void The_packed_tool_installs_and_trains_reports_and_predicts()
    {
        Assert.SkipUnless(ProcessRunner.SdkAvailable(), "needs the .NET SDK (not present on the GPU machine)");
        var version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        var work = TempFolders.Create("diffautoml-tool").FullName;
        try
        {
            var feed = Path.Combine(work, "feed");
            var timeout = TimeSpan.FromMinutes(8);
            var pack = ProcessRunner.Run("dotnet", $"pack src/DiffAutoML.Cli -c Release -o \"{feed}\" -p:Version={version}", TestPaths.RepoRoot, timeout);
            Assert.True(pack.ExitCode == 0, pack.Output);
            var tools = Path.Combine(work, "tools");
            var install = ProcessRunner.Run("dotnet", $"tool install DiffAutoML.Cli --version {version} --tool-path \"{tools}\" --add-source \"{feed}\"", work, timeout);
            Assert.True(install.ExitCode == 0, install.Output);
            var diffautoml = Path.Combine(tools, OperatingSystem.IsWindows() ? "diffautoml.exe" : "diffautoml");

            var help = ProcessRunner.Run(diffautoml, "--help", work, timeout);
            Assert.True(help.ExitCode == 0, help.Output);
            Assert.Contains("diffautoml train <data>", help.Output);

            var output = Path.Combine(work, "run");
            var train = ProcessRunner.Run(diffautoml, $"train \"{Path.Combine(TestPaths.Subset, "test-png")}\" --epochs 1 --preset tiny --quiet --out \"{output}\"", work, timeout);
            Assert.True(train.ExitCode == 0, train.Output);
            foreach (var file in new[] { "model.zip", "model.onnx", "report.json", "report.html" })
                Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing after train:\n{train.Output}");

            var image = Directory.GetFiles(Path.Combine(TestPaths.Subset, "test-png", "Trouser")).Order().First();
            var predict = ProcessRunner.Run(diffautoml, $"predict \"{Path.Combine(output, "model.zip")}\" \"{image}\"", work, timeout);
            Assert.True(predict.ExitCode == 0, predict.Output);
            var fields = predict.Output.Trim().Split('\t');
            Assert.Equal(3, fields.Length);
            Assert.Contains(fields[1], DiffAutoML.ML.Data.IdxDataset.FashionMnistClassNames);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            ProcessRunner.RemoveFromNuGetCache("DiffAutoML.Cli", version);
        }
    }
}
