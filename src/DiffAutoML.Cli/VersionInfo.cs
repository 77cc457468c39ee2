using System.Reflection;

namespace DiffAutoML.Cli;

/// <summary>What <c>diffautoml --version</c> prints: the tool's version and those of the libraries a model depends on.</summary>
internal static class VersionInfo
{
    public static int Print()
    {
        Console.WriteLine($"diffautoml {Of(typeof(VersionInfo).Assembly)}");
        // A bug report needs these too: the library that trained, and the runtimes under it.
        Console.WriteLine($"  DiffAutoML.ML {Of(typeof(DiffAutoML.ML.DiffAutoMLCatalog).Assembly)}");
        Console.WriteLine($"  ML.NET {Of(typeof(Microsoft.ML.MLContext).Assembly)}");
        Console.WriteLine($"  TorchSharp {Of(typeof(TorchSharp.torch).Assembly)}");
        Console.WriteLine($"  .NET {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        return 0;
    }

    private static string Of(Assembly assembly)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                      ?? assembly.GetName().Version?.ToString() ?? "unknown";
        // The SDK appends the commit ("0.1.0+4af40fd..."): keep it short.
        var plus = version.IndexOf('+');
        return plus >= 0 && version.Length > plus + 13 ? version[..(plus + 13)] : version;
    }
}
