using System.Text;
using System.Text.RegularExpressions;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Disposes, when the process exits, the scoring chains this library handed out that are still alive and undisposed,
/// and on Linux deletes the network files of chains loaded with <c>mlContext.Model.Load</c> that are still open.
/// </summary>
/// <remarks>
/// ML.NET keeps a chain's network in a file under the context's TempFilePath, which only disposing the chain deletes.
/// .NET runs no finalizers at exit, so every model an application never disposed left its file behind: most ML.NET code
/// never disposes a transformer, and this project's own tests had left hundreds in /tmp. Disposing is idempotent for
/// ML.NET's chains, so a chain the user disposed is disposed again harmlessly. Held weakly: a chain the garbage
/// collector reclaims deletes its file through the file handle's finalizer.
/// </remarks>
internal static partial class DisposeAtExit
{
    private static readonly object Gate = new();
    private static readonly List<WeakReference<IDisposable>> Chains = new();
    private static bool _hooked;

    /// <summary>Disposes <paramref name="chain"/> at exit if it is still alive then.</summary>
    public static void Register(IDisposable chain)
    {
        lock (Gate)
        {
            HookLocked();
            Chains.RemoveAll(c => !c.TryGetTarget(out _));
            Chains.Add(new WeakReference<IDisposable>(chain));
        }
    }

    /// <summary>Makes sure the exit handler runs in this process, for chains this library does not see being loaded.</summary>
    public static void Hook()
    {
        lock (Gate) HookLocked();
    }

    private static void HookLocked()
    {
        if (_hooked) return;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DisposeAll();
        _hooked = true;
    }

    private static void DisposeAll()
    {
        IDisposable[] alive;
        lock (Gate)
        {
            alive = Chains.Select(c => c.TryGetTarget(out var chain) ? chain : null).OfType<IDisposable>().ToArray();
            Chains.Clear();
        }
        foreach (var chain in alive)
        {
            try { chain.Dispose(); }
            catch (Exception) { } // exiting: one chain that cannot be disposed must not stop the others
        }
        if (OperatingSystem.IsLinux()) DeleteOpenNetworkCopies();
    }

    /// <summary>
    /// Deletes the copies of this library's networks that this process still holds open. ML.NET writes a loaded ONNX
    /// network to a file with a random name (<c>Path.GetRandomFileName</c>) and opens it with DeleteOnClose; on Linux .NET
    /// deletes such a file when the handle is closed, which nothing does at exit. (Windows deletes it when the process
    /// ends.) A chain loaded with <c>mlContext.Model.Load</c> passes through no code of this library, so its copy is
    /// recognized by its name and by the chain's output column name in its bytes, which no other file of that name has.
    /// </summary>
    internal static int DeleteOpenNetworkCopies()
    {
        string[] open;
        try
        {
            open = Directory.GetFileSystemEntries("/proc/self/fd").Select(Target).OfType<string>().Distinct().ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        int deleted = 0;
        foreach (var file in open)
        {
            try
            {
                if (!RandomFileName().IsMatch(Path.GetFileName(file)) || !File.Exists(file) || !HoldsNetwork(file)) continue;
                File.Delete(file);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // exiting: leave that one
        }
        return deleted;
    }

    private static string? Target(string descriptor)
    {
        try { return File.ResolveLinkTarget(descriptor, returnFinalTarget: false)?.FullName; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; } // closed meanwhile
    }

    private static readonly byte[] Marker = Encoding.UTF8.GetBytes(DiffAutoMLScoring.ProbabilitiesColumn);

    private static bool HoldsNetwork(string file)
    {
        // An ONNX model starts with its IR version (protobuf field 1, a varint: tag 0x08); only such a file is read, whole,
        // because the output names come after the weights.
        using var stream = File.OpenRead(file);
        if (stream.Length is 0 or > 1L << 30 || stream.ReadByte() != 0x08) return false;
        var bytes = new byte[stream.Length - 1];
        stream.ReadExactly(bytes);
        return bytes.AsSpan().IndexOf(Marker) >= 0;
    }

    [GeneratedRegex(@"^[a-z0-9]{8}\.[a-z0-9]{3}$")]
    private static partial Regex RandomFileName();
}
