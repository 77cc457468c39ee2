using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>TorchSharp's CPU thread count, set for one Fit and put back when it ends.</summary>
/// <remarks>
/// libtorch keeps one count for the process: without the restore, a Fit with <c>Threads</c> set would leave every later
/// Fit and every other TorchSharp user in the process on that count.
/// </remarks>
internal sealed class TorchThreadCount : IDisposable
{
    private readonly int? _previous;

    private TorchThreadCount(int? previous) => _previous = previous;

    /// <summary>Sets the count when <paramref name="threads"/> has a value; disposing the result restores the one before.</summary>
    public static TorchThreadCount Set(int? threads)
    {
        if (threads is not int count) return new TorchThreadCount(null);
        TorchRuntime.EnsureCpu();
        var previous = torch.get_num_threads();
        torch.set_num_threads(count);
        return new TorchThreadCount(previous);
    }

    public void Dispose()
    {
        if (_previous is int previous) torch.set_num_threads(previous);
    }
}
