namespace DiffAutoML.ML.Training;

/// <summary>
/// The time-budget planner's decision after an epoch: how many epochs fit in the time left and how many of them search.
/// Shorter when the next epochs will not fit (the machine may be busier than during the probe), longer when epochs turn
/// out cheaper (the probe times a few steps and includes one-off start-up work, a tuning epoch costs less than a search
/// epoch, and other work on the machine comes and goes), until the last planned epoch: a plan that has run to its end
/// is not lengthened, since its learning rate has reached zero. The caller re-fits the schedule from the current step
/// (<see cref="HyperParameters.LearningRateSchedule.RefitFrom"/>), so the rate never jumps.
/// </summary>
internal readonly record struct BudgetPlan(int PlannedEpochs, int SearchEpochs)
{
    /// <summary>The plan before the first epoch.</summary>
    /// <param name="epochs">The epochs asked for (<see cref="Api.DiffAutoMLOptions.Epochs"/>), or, under a time budget, the
    /// epochs estimated to fit.</param>
    /// <param name="searchArchitecture">Whether the architecture is searched.</param>
    /// <param name="searchFraction">The share of the epochs that search.</param>
    /// <param name="timeBudget">Whether a time budget sized <paramref name="epochs"/>.</param>
    /// <param name="maxEpochs">The most epochs the options allow under a time budget (null: no limit).</param>
    public static BudgetPlan Initial(int epochs, bool searchArchitecture, double searchFraction, bool timeBudget, int? maxEpochs)
    {
        int planned = Math.Max(1, epochs);
        // Under a time budget a search is followed by at least one tuning epoch even when a single epoch is expected to
        // fit: the search's deadline then cuts its epoch short. A plan of one search epoch ran to its end and returned the
        // supernet's untuned child, 85.8% validation accuracy after 5 of 15 minutes (docs/benchmarks.md).
        if (timeBudget && searchArchitecture && searchFraction < 1) planned = Math.Max(2, planned);
        if (timeBudget) planned = Math.Min(planned, Math.Max(1, maxEpochs ?? int.MaxValue));
        // At least one tuning epoch when there are two or more: the supernet's weights alone make a poor model.
        int search = !searchArchitecture ? 0 : planned == 1 ? 1 : Math.Max(1, SearchShare(planned, searchFraction));
        return new BudgetPlan(planned, search);
    }

    /// <summary>The plan after <paramref name="completed"/> epochs, or null when it stays as it is.</summary>
    /// <param name="secondsLeft">Time left for training epochs (the budget less the elapsed time and the finishing reserve).</param>
    /// <param name="epochSeconds">The expected duration of the next epoch (<see cref="EpochDurations.Expected"/>).</param>
    /// <param name="completed">Epochs completed.</param>
    /// <param name="searching">Whether the search stage is still running.</param>
    /// <param name="searchFraction">The share of the epochs that search.</param>
    /// <param name="maxEpochs">The most epochs the options allow (null: no limit).</param>
    /// <param name="endSearch">Whether the search ends now (<see cref="SearchDeadlineShare"/> has passed): the plan then
    /// searches no further epoch and keeps at least one tuning epoch.</param>
    public BudgetPlan? Replan(double secondsLeft, double epochSeconds, int completed, bool searching, double searchFraction, int? maxEpochs,
        bool endSearch = false)
    {
        int affordable = Math.Max(0, (int)Math.Floor(secondsLeft / Math.Max(1e-3, epochSeconds)));
        int plan = Math.Min(completed + affordable, maxEpochs ?? int.MaxValue);
        bool shorten = plan < PlannedEpochs, lengthen = plan > PlannedEpochs && completed < PlannedEpochs;
        if (!shorten && !lengthen && !(searching && endSearch)) return null;
        // During the search at least one tuning epoch stays planned, even when the budget will cut it short: a child
        // tuned for part of an epoch beats one taken untuned from the supernet.
        int planned = Math.Max(plan, completed + (searching ? 1 : 0));
        if (!searching) return this with { PlannedEpochs = planned };
        return new BudgetPlan(planned, endSearch ? completed : Math.Max(completed, SearchShare(planned, searchFraction)));
    }

    /// <summary>
    /// Whether this plan differs enough from the last one reported to the user to be reported: the plan is re-sized after
    /// every epoch, and short epochs move it by one or two epochs nearly every time (80 log lines in a run of 121 epochs
    /// of 1.5 s). A change of at least a twentieth of the reported plan (one epoch for plans under 20), or of the
    /// search's end by as much, is reported.
    /// </summary>
    public bool WorthReporting(BudgetPlan? reported)
    {
        if (reported is not { } last) return true;
        static bool Moved(int now, int before) => Math.Abs(now - before) >= Math.Max(1, before / 20);
        return Moved(PlannedEpochs, last.PlannedEpochs) || Moved(SearchEpochs, last.SearchEpochs);
    }

    /// <summary>
    /// How many epochs the learning-rate schedule should span from now: the plan's remaining epochs, or, when the plan
    /// keeps an epoch that the time left cannot hold (the tuning epoch kept during the search), the part of an epoch that
    /// fits, so that the rate has decayed to zero when the budget stops the run rather than being cut off high.
    /// </summary>
    public double ScheduleEpochsLeft(int completed, double secondsLeft, double epochSeconds)
        => Math.Min(PlannedEpochs - completed, Math.Max(0, secondsLeft) / Math.Max(1e-3, epochSeconds));

    /// <summary>
    /// The most of the training time (the budget less what came before the plan) that the search stage may take under
    /// a time budget: its share, <paramref name="searchFraction"/>, plus half the rest. Past it the search ends, its
    /// epoch cut short if need be, so that the child is tuned before the budget runs out even when epochs take far
    /// longer than the plan expected (a busy machine, or a budget that holds one epoch). 1 when the whole run searches.
    /// </summary>
    public static double SearchDeadlineShare(double searchFraction) => searchFraction >= 1 ? 1 : (1 + searchFraction) / 2;

    /// <summary>The search stage's epochs in a plan of <paramref name="planned"/>: its share, leaving at least one
    /// tuning epoch unless the whole run searches (<paramref name="searchFraction"/> 1).</summary>
    public static int SearchShare(int planned, double searchFraction)
        => Math.Min((int)Math.Round(planned * searchFraction), searchFraction >= 1 ? planned : planned - 1);
}
