using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.Training;

public class BudgetPlanTests
{
    private static readonly BudgetPlan TwentyEpochsThreeSearching = new(20, 3);

    /// <summary>The plan after <paramref name="completed"/> epochs, searching a 0.15 share.</summary>
    private static BudgetPlan? After(BudgetPlan plan, int completed, double secondsLeft, double epochSeconds, bool searching = false, int? maxEpochs = null)
        => plan.Replan(secondsLeft, epochSeconds, completed, searching, searchFraction: 0.15, maxEpochs);

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
    public void The_plan_never_exceeds_the_epochs_the_options_allow()
    {
        Assert.Null(After(new BudgetPlan(10, 0), completed: 5, secondsLeft: 6000, epochSeconds: 60, maxEpochs: 10));
        Assert.Equal(new BudgetPlan(12, 0), After(new BudgetPlan(8, 0), completed: 5, secondsLeft: 6000, epochSeconds: 60, maxEpochs: 12));
    }
}
