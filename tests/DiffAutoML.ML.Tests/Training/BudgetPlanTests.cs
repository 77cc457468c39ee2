using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.Training;

public class BudgetPlanTests
{
    private static readonly BudgetPlan TwentyEpochsThreeSearching = new(20, 3);

    /// <summary>The plan after <paramref name="completed"/> epochs, searching a 0.15 share.</summary>
    private static BudgetPlan? After(BudgetPlan plan, int completed, double secondsLeft, double epochSeconds, bool searching = false, int? maxEpochs = null,
        bool endSearch = false)
        => plan.Replan(secondsLeft, epochSeconds, completed, searching, searchFraction: 0.15, maxEpochs, endSearch);

    [Fact]
    public void Cheaper_epochs_past_the_middle_of_the_plan_lengthen_it()
        => Assert.Equal(new BudgetPlan(24, 3), After(TwentyEpochsThreeSearching, completed: 14, secondsLeft: 600, epochSeconds: 60)); // 10 more fit

    [Fact]
    public void A_plan_that_has_run_to_its_end_is_not_lengthened()
        => Assert.Null(After(TwentyEpochsThreeSearching, completed: 20, secondsLeft: 600, epochSeconds: 60));

    [Fact]
    public void Slower_epochs_shorten_the_plan()
        // 9.8 more epochs' time: 9 more, since a started epoch must end within the budget.
        => Assert.Equal(new BudgetPlan(14, 3), After(TwentyEpochsThreeSearching, completed: 5, secondsLeft: 600, epochSeconds: 61));

    [Fact]
    public void Small_moves_of_a_long_plan_are_not_reported_again()
    {
        Assert.True(new BudgetPlan(100, 15).WorthReporting(null));
        Assert.False(new BudgetPlan(98, 15).WorthReporting(new BudgetPlan(100, 15))); // under a twentieth
        Assert.True(new BudgetPlan(95, 15).WorthReporting(new BudgetPlan(100, 15)));
        Assert.True(new BudgetPlan(105, 15).WorthReporting(new BudgetPlan(100, 15)));
        Assert.True(new BudgetPlan(100, 16).WorthReporting(new BudgetPlan(100, 15))); // the search's end, under 20 epochs
        Assert.True(new BudgetPlan(11, 2).WorthReporting(new BudgetPlan(10, 2))); // a short plan: every epoch
        Assert.False(new BudgetPlan(10, 2).WorthReporting(new BudgetPlan(10, 2)));
    }

    [Fact]
    public void An_unchanged_estimate_keeps_the_plan()
        => Assert.Null(After(TwentyEpochsThreeSearching, completed: 5, secondsLeft: 900, epochSeconds: 60));

    [Fact]
    public void During_the_search_the_search_keeps_its_share_of_a_longer_plan()
        // 40 more fit: 42 epochs, of which round(42 x 0.15) = 6 search.
        => Assert.Equal(new BudgetPlan(42, 6), After(TwentyEpochsThreeSearching, completed: 2, secondsLeft: 2400, epochSeconds: 60, searching: true));

    [Fact]
    public void During_the_search_one_tuning_epoch_stays_planned_when_no_time_is_left()
        => Assert.Equal(new BudgetPlan(4, 3), After(TwentyEpochsThreeSearching, completed: 3, secondsLeft: 0, epochSeconds: 60, searching: true));

    [Fact]
    public void A_search_that_reaches_its_deadline_ends_now_and_keeps_one_tuning_epoch()
    {
        // Time for 10 more epochs: the search ends after the 2 completed, and the rest tunes.
        Assert.Equal(new BudgetPlan(12, 2), After(TwentyEpochsThreeSearching, completed: 2, secondsLeft: 600, epochSeconds: 60, searching: true, endSearch: true));
        // No time left: one tuning epoch stays planned, even when the plan's length is otherwise unchanged.
        Assert.Equal(new BudgetPlan(2, 1), After(new BudgetPlan(2, 2), completed: 1, secondsLeft: 10, epochSeconds: 60, searching: true, endSearch: true));
        // In the tuning stage the flag changes nothing.
        Assert.Null(After(TwentyEpochsThreeSearching, completed: 5, secondsLeft: 900, epochSeconds: 60, endSearch: true));
    }

    [Fact]
    public void The_schedule_spans_the_plan_or_the_part_of_an_epoch_that_fits()
    {
        Assert.Equal(15, TwentyEpochsThreeSearching.ScheduleEpochsLeft(completed: 5, secondsLeft: 900, epochSeconds: 60));
        // A tuning epoch kept when only 15 s of its 60 are left: the rate reaches zero a quarter of the way through it.
        Assert.Equal(0.25, new BudgetPlan(2, 1).ScheduleEpochsLeft(completed: 1, secondsLeft: 15, epochSeconds: 60), 12);
        Assert.Equal(0, new BudgetPlan(2, 1).ScheduleEpochsLeft(completed: 1, secondsLeft: -5, epochSeconds: 60));
    }

    [Theory]
    [InlineData(1.0 / 3, 2.0 / 3)]
    [InlineData(0.15, 0.575)]
    [InlineData(0, 0.5)]
    [InlineData(1, 1)]
    public void The_search_may_take_its_share_of_the_time_plus_half_the_rest(double searchFraction, double share)
        => Assert.Equal(share, BudgetPlan.SearchDeadlineShare(searchFraction), 12);

    [Fact]
    public void The_first_plan_searches_its_share_and_keeps_a_tuning_epoch()
    {
        Assert.Equal(new BudgetPlan(30, 10), BudgetPlan.Initial(30, searchArchitecture: true, searchFraction: 1.0 / 3, timeBudget: false, maxEpochs: null));
        Assert.Equal(new BudgetPlan(30, 0), BudgetPlan.Initial(30, searchArchitecture: false, searchFraction: 1.0 / 3, timeBudget: true, maxEpochs: null));
        Assert.Equal(new BudgetPlan(7, 1), BudgetPlan.Initial(7, searchArchitecture: true, searchFraction: 0.15, timeBudget: true, maxEpochs: null));
        // Epochs = 1 without a budget: the one epoch the options ask for searches.
        Assert.Equal(new BudgetPlan(1, 1), BudgetPlan.Initial(1, searchArchitecture: true, searchFraction: 0.15, timeBudget: false, maxEpochs: null));
        // A budget that holds one epoch: a search epoch (cut short by its deadline if need be) and a tuning epoch.
        Assert.Equal(new BudgetPlan(2, 1), BudgetPlan.Initial(1, searchArchitecture: true, searchFraction: 0.15, timeBudget: true, maxEpochs: null));
        Assert.Equal(new BudgetPlan(2, 1), BudgetPlan.Initial(0, searchArchitecture: true, searchFraction: 1.0 / 3, timeBudget: true, maxEpochs: 40));
        // ... unless the options allow one epoch, or the whole run searches.
        Assert.Equal(new BudgetPlan(1, 1), BudgetPlan.Initial(1, searchArchitecture: true, searchFraction: 0.15, timeBudget: true, maxEpochs: 1));
        Assert.Equal(new BudgetPlan(1, 1), BudgetPlan.Initial(1, searchArchitecture: true, searchFraction: 1, timeBudget: true, maxEpochs: null));
        Assert.Equal(new BudgetPlan(12, 12), BudgetPlan.Initial(30, searchArchitecture: true, searchFraction: 1, timeBudget: true, maxEpochs: 12));
    }

    [Fact]
    public void The_plan_never_exceeds_the_epochs_the_options_allow()
    {
        Assert.Null(After(new BudgetPlan(10, 0), completed: 5, secondsLeft: 6000, epochSeconds: 60, maxEpochs: 10));
        Assert.Equal(new BudgetPlan(12, 0), After(new BudgetPlan(8, 0), completed: 5, secondsLeft: 6000, epochSeconds: 60, maxEpochs: 12));
    }
}
