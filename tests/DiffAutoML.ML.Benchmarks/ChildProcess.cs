using System.Diagnostics;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>Runs this benchmark program again with other arguments (a measurement in a process of its own, so that its
/// peak memory and start-up are its own) and copies its output.</summary>
internal static class ChildProcess
{
    public static void RunSelf(string arguments)
    {
        var self = Environment.ProcessPath!;
        var full = $"\"{typeof(ChildProcess).Assembly.Location}\" {arguments}";
        var info = new ProcessStartInfo(self, self.EndsWith("dotnet") ? full : arguments) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        Console.Write(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
    }
}
