using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>TorchSharp's CPU thread count, set for one Fit and put back when the last Fit that set it ends.</summary>
/// <remarks>
/// libtorch keeps one count for the process: without the restore, a Fit with <c>Threads</c> set would leave every later
/// Fit and every other TorchSharp user in the process on that count. Fits that overlap (two models trained at once)
/// share it: the latest one to start sets it, and the count from before the first one comes back when the last one
/// ends. Restoring per Fit would let the first to end restore a count the second had already replaced, and the process
/// would keep the Fits' count.
/// </remarks>
internal sealed class TorchThreadCount : IDisposable
{
    private static readonly object Gate = new();
    private static int _holders;
    private static int _before;

    private bool _held;

    private TorchThreadCount(bool held) => _held = held;

    /// <summary>Sets the count when <paramref name="threads"/> has a value; disposing the result ends this Fit's share.</summary>
    public static TorchThreadCount Set(int? threads)
    {
        if (threads is not int count) return new TorchThreadCount(false);
        TorchRuntime.EnsureCpu();
        lock (Gate)
        {
            if (_holders++ == 0) _before = torch.get_num_threads();
            torch.set_num_threads(count);
        }
        return new TorchThreadCount(true);
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (!_held) return;
            _held = false;
            if (--_holders == 0) torch.set_num_threads(_before);
        }
    }
}
