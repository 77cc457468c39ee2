using System.Diagnostics;

namespace DiffAutoML.Cli;

/// <summary>Runs the report renderer (report/diffautoml-report.dll beside this program) in its own process.</summary>
internal static class ReportRenderer
{
    public static string? Render(string folder)
    {
        var renderer = Path.Combine(AppContext.BaseDirectory, "report", "diffautoml-report.dll");
        if (!File.Exists(renderer))
        {
            Console.Error.WriteLine($"warning: report.html not written: {renderer} is missing.");
            return null;
        }
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (!Path.GetFileNameWithoutExtension(info.FileName).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) info.FileName = "dotnet";
        info.ArgumentList.Add(renderer);
        info.ArgumentList.Add(folder);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode == 0) return output.Trim();
        Console.Error.WriteLine($"warning: report.html not written ({error.Trim()}).");
        return null;
    }
}
