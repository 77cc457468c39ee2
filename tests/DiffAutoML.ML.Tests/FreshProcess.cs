using System.Text.RegularExpressions;
using DiffAutoML.ML.Tests.Packaging;

namespace DiffAutoML.ML.Tests;

/// <summary>
/// Runs one test of this assembly in a fresh copy of it (the assembly is xunit's in-process runner), for checks that
/// earlier tests in the same process would disturb: its heap, finalizer queue or process-wide settings.
/// </summary>
internal static class FreshProcess
{
    /// <summary>Whether this process is the fresh copy started for the test that sets <paramref name="variable"/>.</summary>
    public static bool IsChild(string variable) => Environment.GetEnvironmentVariable(variable) == "1";

    /// <summary>Runs <paramref name="type"/>.<paramref name="method"/> in a fresh process with <paramref name="variable"/>
    /// set to 1 (and <paramref name="environment"/>) and asserts that it passed there; a skip there skips here.</summary>
    public static void RunTest(Type type, string method, string variable, TimeSpan limit, IReadOnlyDictionary<string, string>? environment = null)
    {
        var assembly = type.Assembly.Location;
        var variables = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { [variable] = "1" };
        var (exitCode, output) = ProcessRunner.Run("dotnet", $"\"{assembly}\" -method \"{type.FullName}.{method}\" -noColor",
            Path.GetDirectoryName(assembly)!, limit, variables);
        TestContext.Current.TestOutputHelper?.WriteLine(output);
        var summary = Regex.Match(output, @"Total: (\d+), Errors: (\d+), Failed: (\d+), Skipped: (\d+)");
        Assert.True(summary.Success, $"the child process printed no test summary (exit {exitCode}):\n{output}");
        Assert.True(summary.Groups[1].Value == "1", $"the child process did not find the test:\n{output}");
        Assert.True(exitCode == 0 && summary.Groups[2].Value == "0" && summary.Groups[3].Value == "0",
            $"the check failed in the child process (exit {exitCode}):\n{output}");
        Assert.SkipWhen(summary.Groups[4].Value == "1", "skipped in the child process:\n" + output);
    }
}
