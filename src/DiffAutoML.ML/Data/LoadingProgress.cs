using System.Diagnostics;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Says how far the loading of images has come, at most once per <see cref="Interval"/>: a 12-megapixel photo takes
/// about 0.4 s to decode and resize on one core (docs/benchmarks.md, "Data path"), minutes in silence for thousands of
/// them. Quick loads print nothing. Thread-safe: the loader decodes on several threads.
/// </summary>
internal sealed class LoadingProgress
{
    private readonly Action<string> _log;
    private readonly long? _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private TimeSpan _lastReport = TimeSpan.Zero;

    /// <summary>Loading progress for a data view of <paramref name="total"/> rows (null: unknown).</summary>
    public LoadingProgress(Action<string> log, long? total, TimeSpan interval)
    {
        _log = log;
        _total = total;
        Interval = interval;
    }

    /// <summary>The shortest time between two messages (and before the first).</summary>
    public TimeSpan Interval { get; }

    /// <summary>Called with the number of images decoded so far.</summary>
    public void Decoded(int count)
    {
        lock (_gate) // one message at a time
        {
            var now = _clock.Elapsed;
            if (now - _lastReport < Interval) return;
            _lastReport = now;
            string of = _total is long total ? $" of {total:N0}" : "";
            _log($"Loaded {count:N0}{of} images in {now.TotalSeconds:F0} s ({count / Math.Max(now.TotalSeconds, 1e-3):F1} images/s).");
        }
    }
}
