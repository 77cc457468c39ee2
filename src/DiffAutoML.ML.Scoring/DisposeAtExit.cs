namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Disposes, when the process exits, the scoring chains this library handed out that are still alive and undisposed.
/// </summary>
/// <remarks>
/// ML.NET keeps a chain's network in a file under the context's TempFilePath, which only disposing the chain deletes.
/// .NET runs no finalizers at exit, so every model an application never disposed left its file behind: most ML.NET code
/// never disposes a transformer, and this project's own tests had left hundreds in /tmp. Disposing is idempotent for
/// ML.NET's chains, so a chain the user disposed is disposed again harmlessly. Held weakly: a chain the garbage
/// collector reclaims deletes its file through the file handle's finalizer.
/// </remarks>
internal static class DisposeAtExit
{
    private static readonly object Gate = new();
    private static readonly List<WeakReference<IDisposable>> Chains = new();
    private static bool _hooked;

    /// <summary>Disposes <paramref name="chain"/> at exit if it is still alive then.</summary>
    public static void Register(IDisposable chain)
    {
        lock (Gate)
        {
            if (!_hooked)
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => DisposeAll();
                _hooked = true;
            }
            Chains.RemoveAll(c => !c.TryGetTarget(out _));
            Chains.Add(new WeakReference<IDisposable>(chain));
        }
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
    }
}
