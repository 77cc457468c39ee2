using System.Diagnostics;

[assembly: AssemblyFixture(typeof(DiffAutoML.ML.Tests.TempFolders))]

namespace DiffAutoML.ML.Tests;

/// <summary>
/// Temporary folders for tests, all under one folder per test process, which is deleted when the tests end (this
/// class is the assembly's fixture). A full run used to leave about 20 MB of models, images and checkpoints in the
/// system's temp folder.
/// </summary>
public sealed class TempFolders : IDisposable
{
    private const string RootPrefix = "diffautoml-tests-";
    private static readonly string Root = Path.Combine(Path.GetTempPath(), RootPrefix + Environment.ProcessId);

    public TempFolders() => DeleteStaleRoots();

    /// <summary>A new empty folder whose name starts with <paramref name="prefix"/>.</summary>
    public static DirectoryInfo Create(string prefix) => Directory.CreateDirectory(Path.Combine(Root, prefix + Path.GetRandomFileName()));

    public void Dispose() => TryDelete(Root);

    /// <summary>
    /// Files under <paramref name="folder"/> that are this library's ONNX networks (ML.NET's temporary copies of a model
    /// that was not disposed): the ONNX header names the producer, "DiffAutoML.ML", within its first bytes.
    /// </summary>
    public static string[] OnnxFilesUnder(string folder)
        => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(IsOurOnnx).ToArray();

    private static bool IsOurOnnx(string file)
    {
        // The runtime's debug pipes and diagnostic sockets live in the temp folder too; opening a pipe would wait for a
        // writer. They have no length, unlike a network file.
        if (new FileInfo(file).Length == 0) return false;
        var head = new byte[32];
        using (var stream = File.OpenRead(file)) head = head[..stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        return System.Text.Encoding.ASCII.GetString(head).Contains("DiffAutoML.ML", StringComparison.Ordinal);
    }

    /// <summary>Roots of test processes that ended without deleting theirs (killed, or stopped in a debugger).</summary>
    private static void DeleteStaleRoots()
    {
        foreach (var root in Directory.EnumerateDirectories(Path.GetTempPath(), RootPrefix + "*"))
            if (int.TryParse(Path.GetFileName(root)[RootPrefix.Length..], out int pid) && !IsRunning(pid)) TryDelete(root);
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (IOException) { } // a file still open (Windows): the next run's sweep deletes it
        catch (UnauthorizedAccessException) { }
    }
}
