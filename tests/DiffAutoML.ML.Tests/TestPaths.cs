namespace DiffAutoML.ML.Tests;

/// <summary>Locations of the repo's shipped data, found from the test binary's folder.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Subset => Path.Combine(RepoRoot, "samples", "data", "fashion-mnist-subset");

    public static string SubsetFile(string name) => Path.Combine(Subset, name);

    private static string FindRoot()
    {
        // Above the test binaries when built in the repo; otherwise where DIFFAUTOML_REPO_ROOT says (the GPU machine runs
        // the published tests from /tmp/app, and xunit's in-process runner makes that the working directory too).
        var named = Environment.GetEnvironmentVariable("DIFFAUTOML_REPO_ROOT");
        foreach (var start in new[] { AppContext.BaseDirectory, named ?? Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "DiffAutoML.ML.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Could not find the repository root (DiffAutoML.ML.sln) above {AppContext.BaseDirectory} or {named ?? Environment.CurrentDirectory}; set DIFFAUTOML_REPO_ROOT.");
    }
}
