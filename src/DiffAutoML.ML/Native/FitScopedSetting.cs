namespace DiffAutoML.ML.Native;

/// <summary>A process-wide libtorch setting that Fits set for their duration and put back when the last one ends.</summary>
/// <remarks>
/// libtorch keeps one value for the process: without the restore, a Fit that set it would leave every later Fit and
/// every other TorchSharp user in the process on its value. Fits that overlap (two models trained at once) share it: the
/// latest one to start sets it, and the value from before the first one comes back when the last one ends. Restoring per
/// Fit would let the first to end restore a value the second had already replaced, and the process would keep the Fits'.
/// </remarks>
internal sealed class FitScopedSetting<T>(Func<T> get, Action<T> set) where T : struct
{
    private readonly object _gate = new();
    private int _holders;
    private T _before;

    /// <summary>Sets <paramref name="value"/> when it has one (nothing otherwise); disposing the result ends this Fit's share.</summary>
    public IDisposable Hold(T? value)
    {
        if (value is not T chosen) return new Share(this, held: false);
        lock (_gate)
        {
            if (_holders++ == 0) _before = get();
            set(chosen);
        }
        return new Share(this, held: true);
    }

    private void Release()
    {
        lock (_gate)
        {
            if (--_holders == 0) set(_before);
        }
    }

    private sealed class Share(FitScopedSetting<T> setting, bool held) : IDisposable
    {
        private int _held = held ? 1 : 0;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _held, 0) == 1) setting.Release();
        }
    }
}
