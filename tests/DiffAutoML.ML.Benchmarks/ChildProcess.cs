using System.Diagnostics;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>Runs this benchmark program again with other arguments (a measurement in a process of its own, so that its
/// peak memory and start-up are its own) and copies its output.</summary>
internal static class ChildProcess
{
    public static void RunSelf(string arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var self = Environment.ProcessPath!;
        var full = $"\"{typeof(ChildProcess).Assembly.Location}\" {arguments}";
        var info = new ProcessStartInfo(self, self.EndsWith("dotnet") ? full : arguments) { RedirectStandardOutput = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        Console.Write(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
    }
}
