using DiffAutoML.ML.Reporting;
using DiffAutoML.ML.Tests.Packaging;

namespace DiffAutoML.ML.Tests.Cli;

/// <summary>The diffautoml command-line tool, run as a user would.</summary>
[Collection(HeavyTestsCollection.Name)]
public class CliTests
{
    // Built once per test run: an up-to-date build still costs seconds, and the tests start the tool about 40 times.
    private static readonly Lazy<string> BuiltCli = new(BuildCli);

    private static string CliDll() => BuiltCli.Value;

    private static string BuildCli()
    {
        var project = Path.Combine(TestPaths.RepoRoot, "src", "DiffAutoML.Cli");
        var dll = Path.Combine(project, "bin", "Debug", "net10.0", "diffautoml.dll");
        if (ProcessRunner.SdkAvailable())
        {
            var build = ProcessRunner.Run("dotnet", $"build \"{project}\" -c Debug", TestPaths.RepoRoot, TimeSpan.FromMinutes(8));
            Assert.True(build.ExitCode == 0, build.Output);
        }
        Assert.SkipUnless(File.Exists(dll), "the CLI is not built and there is no .NET SDK to build it");
        return dll;
    }

    private static (int Exit, string Output) Cli(string arguments, string folder)
        => ProcessRunner.Run("dotnet", $"\"{CliDll()}\" {arguments}", folder, TimeSpan.FromMinutes(8));

    [Fact]
    public void Help_explains_the_commands_and_mistakes_are_named()
    {
        var folder = TempFolders.Create("diffautoml-cli").FullName;
        var (exit, output) = Cli("--help", folder);
        Assert.Equal(0, exit);
        Assert.Contains("diffautoml train <data>", output);
        Assert.Contains("--time-budget", output);
        // Help after a command is help too (it used to be read as a data folder, or as an option without a value).
        foreach (var arguments in new[] { "train --help", "train -h", "predict --help", "train ./images --epochs 3 --help" })
        {
            var (helpExit, helpOutput) = Cli(arguments, folder);
            Assert.True(helpExit == 0, $"{arguments}: exit {helpExit}\n{helpOutput}");
            Assert.Contains("diffautoml train <data>", helpOutput);
        }
        var (versionExit, versionOutput) = Cli("--version", folder);
        Assert.True(versionExit == 0, versionOutput);
        Assert.Matches(@"^diffautoml \d+\.\d+\.\d+", versionOutput);
        Assert.Contains("TorchSharp 0.107.0", versionOutput);
        var images = Path.Combine(TestPaths.Subset, "test-png");
        // Each mistake is a usage error (exit 2) that names it; the last is a value the library itself rejects (it used
        // to end in an unhandled exception).
        foreach (var (arguments, expected) in new[]
        {
            ("--epoch 3", "Unknown option: --epoch"),
            ("--seed 1 --seed 2", "--seed is given more than once"),
            ("--width 0", "--width '0' is not valid"),
            ("--search-fraction 1.5", "--search-fraction '1.5' is not valid"),
            ("--tune-during-search maybe", "--tune-during-search 'maybe' is not valid"),
            ("--shared-kernels 1", "--shared-kernels '1' is not valid"),
            ("--repeats 2,2,4", "--repeats '2,2,4' is not valid: needs 4 layer counts (one per stage), each from 1 to 32"),
            ("--repeats 2,0,4,2", "--repeats '2,0,4,2' is not valid"),
            ("--repeats 2,2,4,2 --stage-strides 1,2,2", "--stage-strides '1,2,2' is not valid: needs 4 strides"),
            ("--stage-strides 1,2,2", "--stage-strides '1,2,2' is not valid: needs 4 strides (one per stage), each 1 or 2"),
            ("--stage-strides 1,2,2,3", "--stage-strides '1,2,2,3' is not valid"),
            ("--stage-strides 1,x,2,2", "--stage-strides '1,x,2,2' is not valid"),
            ("--sample-within-budget on", "--sample-within-budget 'on' is not valid"),
            ("--hpo-every 0", "UpdateEvery must be at least 1"),
            ("--weight-decay 0", "WeightDecay must be within"),
            ("--weight-decay 5e-4x", "--weight-decay '5e-4x' is not valid"),
            ("--threads 0", "Threads must be at least 1"),
            ("--hpo-every ten", "--hpo-every 'ten' is not valid"),
            ("--flip yes", "--flip 'yes' is not valid"),
            ("--cutout x", "--cutout 'x' is not valid"),
            ("--test-time-flip true", "set RandomFlip too"),
            ("--test-time-shift true", "set RandomCropPadding to 1 or more too"),
            ("--precision half", "--precision 'half' is not valid: expected Float32 or BFloat16"),
            ("--precision 7", "--precision '7' is not valid: expected Float32 or BFloat16"),
            ("--cudnn-benchmark maybe", "--cudnn-benchmark 'maybe' is not valid"),
            ("--crop-padding -1", "The crop padding must be >= 0 pixels"),
            ("--max-relative-cost 0.5", "MaxRelativeCost must be a finite number >= 1"),
            ("--candidates k3,k9", "--candidates 'k3,k9' is not valid"),
            ("--profile fast", "--profile 'fast' is not valid"),
            ("--profile 7", "--profile '7' is not valid: Unknown profile; expected one of Paper, Efficient"),
            ("--candidates k3,k3", "Candidates must name at least one block, each once"),
            ("--architecture k3", "--components must leave out Architecture"),
            ("--components None --architecture \"k3 k9\"", "FixedArchitecture"),
        })
        {
            var (badExit, badOutput) = Cli($"train \"{images}\" {arguments}", folder);
            Assert.True(badExit == 2, $"{arguments}: exit {badExit}\n{badOutput}");
            Assert.Contains(expected, badOutput);
        }
        // A test folder with a class the training folder lacks is refused before training, not after it.
        var test = TempFolders.Create("diffautoml-cli-test-classes").FullName;
        foreach (var name in new[] { "Bag", "Zebra" })
        {
            Directory.CreateDirectory(Path.Combine(test, name));
            File.Copy(Directory.GetFiles(Path.Combine(images, "Bag"))[0], Path.Combine(test, name, "0.png"));
        }
        var (testExit, testOutput) = Cli($"train \"{images}\" --test \"{test}\"", folder);
        Assert.True(testExit == 2, $"exit {testExit}\n{testOutput}");
        Assert.Contains("has a class that the training data", testOutput);
        Assert.Contains("'Zebra'", testOutput);
        Assert.DoesNotContain("'Bag'", testOutput);
        var (missingExit, missingOutput) = Cli("train /nonexistent/images", folder);
        Assert.Equal(2, missingExit);
        Assert.Contains("/nonexistent/images", missingOutput);
    }

    [Fact]
    public void A_bad_image_is_reported_by_file_without_a_stack_trace()
    {
        var folder = TempFolders.Create("diffautoml-cli").FullName;
        var images = Path.Combine(folder, "images");
        foreach (var label in Directory.GetDirectories(Path.Combine(TestPaths.Subset, "test-png")).Take(2))
        {
            var target = Directory.CreateDirectory(Path.Combine(images, Path.GetFileName(label))).FullName;
            foreach (var file in Directory.GetFiles(label).Take(3)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        var broken = Path.Combine(Directory.GetDirectories(images)[0], "broken.png");
        File.WriteAllText(broken, "not an image");

        var (exit, output) = Cli($"train \"{images}\" --epochs 1 --out \"{Path.Combine(folder, "out")}\" --quiet", folder);

        Assert.Equal(1, exit);
        Assert.Contains("error: ", output);
        Assert.Contains("broken.png", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [Fact]
    public void A_time_budget_too_short_to_train_is_an_error_without_a_stack_trace()
    {
        var folder = TempFolders.Create("diffautoml-cli").FullName;
        var train = Path.Combine(TestPaths.Subset, "train-images-idx3-ubyte.gz");

        var (exit, output) = Cli($"train \"{train}\" --time-budget 1s --out \"{Path.Combine(folder, "out")}\" --quiet", folder);

        Assert.True(exit == 1, $"exit {exit}\n{output}");
        Assert.Contains("error: The time budget of 00:00:01 ran out before the first training step", output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.False(File.Exists(Path.Combine(folder, "out", "model.zip")), "a model was written");
    }

    [Fact]
    public void Train_writes_the_model_onnx_and_report_and_predict_uses_the_model()
    {
        var folder = TempFolders.Create("diffautoml-cli").FullName;
        var images = Path.Combine(TestPaths.Subset, "test-png");
        // The efficient profile, with one of its values overridden on the command line.
        var (exit, output) = Cli($"train \"{images}\" --test \"{images}\" --epochs 2 --batch 32 --threads 1 --profile efficient --search-fraction 0.5 --repeats 1,1,2,1 --stage-strides 2,2,2,1 --out \"{folder}\" --quiet", folder);
        Assert.True(exit == 0, output);
        // One thread and a validation batch of 8: libtorch used to print a line for each such convolution on a CPU
        // without NNPACK support, thousands per epoch (Native/LibtorchContextFlag.cs, Nnpack).
        Assert.DoesNotContain("NNPACK", output);
        foreach (var file in new[] { "model.zip", "model.onnx", "report.json", "report.html", "accuracy.png", "architecture-search.png", "augmentation.png", "confusion-matrix.png", "test-metrics.json" })
            Assert.True(File.Exists(Path.Combine(folder, file)), $"{file} missing; output:\n{output}");
        var report = DiffAutoMLReport.FromJson(File.ReadAllText(Path.Combine(folder, "report.json")));
        Assert.Equal(2, report.History.Count);
        Assert.Equal("1", report.Options["Threads"]);
        Assert.Equal("0.5", report.Options["SearchFraction"]);
        Assert.Contains("MaxRelativeCost 1.1, sample within budget True, candidates k3 k5 k7", report.Options["Architecture"]);
        Assert.Contains("repeats [1,1,2,1]", report.Options["SearchSpace"]);
        Assert.Contains("shared kernels True, stage strides [2,2,2,1]", report.Options["SearchSpace"]);
        Assert.Equal(5, report.Architecture.Split(' ').Length); // one block per layer of --repeats 1,1,2,1
        Assert.Contains("during search False", report.Options["HyperParameters"]);
        // model.onnx, for programs outside .NET, names its classes in the report's order and its input.
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(folder, "model.onnx")))
        {
            var metadata = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal(report.Classes, System.Text.Json.JsonSerializer.Deserialize<string[]>(metadata[DiffAutoML.ML.Export.OnnxExporter.ClassesKey]));
            Assert.Equal(report.InputShape, metadata[DiffAutoML.ML.Export.OnnxExporter.InputShapeKey]);
        }
        Assert.Contains("test accuracy", output);
        // The library's log lines reach the console (the messages of Fit, not only the final table).
        Assert.Contains("Architecture fixed after", output);
        var html = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains(report.Architecture, html);

        var image = Directory.GetFiles(Path.Combine(images, "Trouser"))[0];
        var (predictExit, predictOutput) = Cli($"predict \"{Path.Combine(folder, "model.zip")}\" \"{image}\"", folder);
        Assert.True(predictExit == 0, predictOutput);
        var fields = predictOutput.Trim().Split('\t');
        Assert.Equal(image, fields[0]);
        Assert.Contains(fields[1], report.Classes);

        // --top 3: the three most probable classes with their probabilities, the predicted one first.
        var (topExit, topOutput) = Cli($"predict \"{Path.Combine(folder, "model.zip")}\" \"{image}\" --top 3", folder);
        Assert.True(topExit == 0, topOutput);
        var topFields = topOutput.Trim().Split('\t');
        Assert.Equal(7, topFields.Length);
        Assert.Equal(fields[1], topFields[1]);
        Assert.Equal(fields[2], topFields[2]);
        Assert.All(new[] { topFields[3], topFields[5] }, c => Assert.Contains(c, report.Classes));
        Assert.Equal(3, new[] { topFields[1], topFields[3], topFields[5] }.Distinct().Count());
        var percents = new[] { topFields[2], topFields[4], topFields[6] }.Select(p => double.Parse(p.TrimEnd('%', ' ').Replace('\u00a0', ' ').Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(percents[0] >= percents[1] && percents[1] >= percents[2], topOutput);
        Assert.Equal(2, Cli($"predict \"{Path.Combine(folder, "model.zip")}\" \"{image}\" --top 0", folder).Exit);

        // A file the model cannot read is named, the others are still scored, and the exit code says something failed.
        var broken = Path.Combine(folder, "broken.png");
        File.WriteAllText(broken, "not an image");
        var (brokenExit, brokenOutput) = Cli($"predict \"{Path.Combine(folder, "model.zip")}\" \"{broken}\" \"{image}\"", folder);
        Assert.Equal(1, brokenExit);
        Assert.Contains($"error: '{broken}' cannot be read as an image", brokenOutput);
        Assert.Contains(image + "\t" + fields[1], brokenOutput);
        Assert.DoesNotContain("Splitter", brokenOutput);
    }
}
