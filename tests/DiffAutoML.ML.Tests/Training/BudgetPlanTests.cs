using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.Training;

public class BudgetPlanTests
{
    [Fact]
    public void Cheaper_epochs_past_the_middle_of_the_plan_lengthen_it()
    {
        // 14 of 20 epochs done, 600 s left, 60 s per epoch: 10 more fit.
        var plan = new BudgetPlan(20, 3).Replan(600, 60, completed: 14, searching: false, searchFraction: 0.15, maxEpochs: null);
        Assert.Equal(new BudgetPlan(24, 3), plan);
    }

    [Fact]
    public void A_plan_that_has_run_to_its_end_is_not_lengthened()
        => Assert.Null(new BudgetPlan(20, 3).Replan(600, 60, completed: 20, searching: false, searchFraction: 0.15, maxEpochs: null));

    [Fact]
    public void Slower_epochs_shorten_the_plan()
    {
        // 5 done, 600 s left at 61 s per epoch: 9 more fit (9.8, and a started epoch must end within the budget).
        var plan = new BudgetPlan(20, 3).Replan(600, 61, completed: 5, searching: false, searchFraction: 0.15, maxEpochs: null);
        Assert.Equal(new BudgetPlan(14, 3), plan);
    }

    [Fact]
    public void An_unchanged_estimate_keeps_the_plan()
        => Assert.Null(new BudgetPlan(20, 3).Replan(900, 60, completed: 5, searching: false, searchFraction: 0.15, maxEpochs: null));

    [Fact]
    public void During_the_search_the_search_keeps_its_share_of_a_longer_plan()
    {
        var plan = new BudgetPlan(20, 3).Replan(2400, 60, completed: 2, searching: true, searchFraction: 0.15, maxEpochs: null);
        Assert.Equal(new BudgetPlan(42, 6), plan); // round(42 x 0.15) = 6
    }

    [Fact]
    public void During_the_search_one_tuning_epoch_stays_planned_when_no_time_is_left()
    {
        var plan = new BudgetPlan(20, 3).Replan(0, 60, completed: 3, searching: true, searchFraction: 0.15, maxEpochs: null);
        Assert.Equal(new BudgetPlan(4, 3), plan);
    }

    [Fact]
    public void The_plan_never_exceeds_the_epochs_the_options_allow()
    {
        Assert.Null(new BudgetPlan(10, 0).Replan(6000, 60, completed: 5, searching: false, searchFraction: 0.15, maxEpochs: 10));
        Assert.Equal(new BudgetPlan(12, 0), new BudgetPlan(8, 0).Replan(6000, 60, completed: 5, searching: false, searchFraction: 0.15, maxEpochs: 12));
    }
}
