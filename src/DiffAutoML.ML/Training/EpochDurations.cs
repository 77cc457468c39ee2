namespace DiffAutoML.ML.Training;

/// <summary>
/// How long the time-budget planner expects the next epoch to take: the median of the current stage's last three
/// epochs. A single epoch slowed by other work on the machine does not move it (on a shared 2-core machine one epoch of
/// 73 s among epochs of 51-55 s cut a half-hour plan from 31 to 27 epochs and left 250 s of the budget unused); a
/// lasting change does after two epochs. A new stage starts afresh: a tuning epoch trains the child, which costs less
/// than the supernet of a search epoch.
/// </summary>
internal sealed class EpochDurations
{
    private const int Window = 3;
    private readonly List<double> _seconds = new(); // the stage's last Window epochs

    /// <summary>Records a finished epoch's duration.</summary>
    public void Add(double seconds)
    {
        if (!(seconds >= 0) || double.IsInfinity(seconds))
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "An epoch's duration must be a finite number of seconds >= 0.");
        _seconds.Add(seconds);
        if (_seconds.Count > Window) _seconds.RemoveAt(0);
    }

    /// <summary>The duration of the last epoch recorded, in seconds.</summary>
    public double Last => _seconds.Count > 0 ? _seconds[^1] : throw new InvalidOperationException("No epoch of this stage has finished yet.");

    /// <summary>Forgets the durations of the previous stage.</summary>
    public void StartStage() => _seconds.Clear();

    /// <summary>The expected duration of the next epoch, in seconds.</summary>
    public double Expected
    {
        get
        {
            if (_seconds.Count == 0) throw new InvalidOperationException("No epoch of this stage has finished yet.");
            var recent = _seconds.Order().ToArray();
            return recent.Length % 2 == 1 ? recent[recent.Length / 2] : (recent[recent.Length / 2 - 1] + recent[recent.Length / 2]) / 2;
        }
    }
}
