using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.HyperParameters;

public class LearningRateScheduleTests
{
    [Fact]
    public void Schedule_warms_up_then_decays_by_cosine()
    {
        var schedule = new LearningRateSchedule(1.0, 4, 104);
        Assert.Equal(new[] { 0.25, 0.5, 0.75, 1.0 }, Enumerable.Range(0, 4).Select(s => schedule.At(s)));
        Assert.Equal(0.5, schedule.At(54), 12);
        Assert.Equal(0.0, schedule.At(104), 12);
    }

    [Fact]
    public void A_plan_no_longer_than_two_warm_ups_warms_up_for_half_of_it_and_still_decays_to_zero()
    {
        // One warm-up epoch of 35 steps in a one-epoch plan: 17 steps of warm-up, then the cosine to zero.
        var short1 = LearningRateSchedule.ForPlan(0.1, warmupSteps: 35, totalSteps: 35);
        Assert.Equal(17, short1.WarmupSteps);
        Assert.Equal(0.1, short1.At(16), 12);
        Assert.True(short1.At(34) < 0.002, $"the last step's rate is {short1.At(34)}");
        // Longer plans keep the warm-up they ask for.
        Assert.Equal(35, LearningRateSchedule.ForPlan(0.1, warmupSteps: 35, totalSteps: 70).WarmupSteps);
        Assert.Equal(35, LearningRateSchedule.ForPlan(0.1, warmupSteps: 35, totalSteps: 3500).WarmupSteps);
        Assert.Equal(0, LearningRateSchedule.ForPlan(0.1, warmupSteps: 0, totalSteps: 35).WarmupSteps);
    }

    [Fact]
    public void Lengthened_after_the_warm_up_it_keeps_its_rate_and_stretches_the_rest_of_the_cosine()
    {
        // Halfway through a 100-step cosine (rate 0.5), lengthened to 150 steps: the remaining half of the cosine now
        // takes 100 steps, so step 100 is three quarters through it: 0.5 (1 + cos(3 pi / 4)).
        var refit = new LearningRateSchedule(1.0, 0, 100).RefitFrom(50, 150);
        Assert.Equal(0.5, refit.At(50), 12);
        Assert.Equal(0.5 * (1 + Math.Cos(0.75 * Math.PI)), refit.At(100), 12);
        Assert.Equal(0.0, refit.At(150), 12);
        AssertNonIncreasing(refit, 50, 150);
    }

    [Fact]
    public void Shortened_after_the_warm_up_it_keeps_its_rate_and_ends_at_the_new_end()
    {
        var schedule = new LearningRateSchedule(1.0, 10, 210);
        double before = schedule.At(110);
        var refit = schedule.RefitFrom(110, 160);
        Assert.Equal(before, refit.At(110), 12);
        // Halfway through the cosine at step 110; step 135 is halfway through the remaining 50 steps.
        Assert.Equal(0.5 * (1 + Math.Cos(0.75 * Math.PI)), refit.At(135), 12);
        Assert.Equal(0.0, refit.At(160), 12);
        AssertNonIncreasing(refit, 110, 160);
    }

    [Fact]
    public void Refitted_during_the_warm_up_only_its_end_moves()
    {
        var refit = new LearningRateSchedule(1.0, 20, 100).RefitFrom(5, 300);
        var fresh = new LearningRateSchedule(1.0, 20, 300);
        foreach (var step in new long[] { 5, 19, 20, 100, 160, 299, 300 }) Assert.Equal(fresh.At(step), refit.At(step), 12);
    }

    [Fact]
    public void Refitted_twice_the_rate_stays_continuous()
    {
        var first = new LearningRateSchedule(0.4, 0, 1000).RefitFrom(400, 1200);
        var second = first.RefitFrom(900, 1100);
        Assert.Equal(first.At(900), second.At(900), 12);
        Assert.True(second.At(900) > 0);
        Assert.Equal(0.0, second.At(1100), 12);
        AssertNonIncreasing(second, 900, 1100);
    }

    [Fact]
    public void A_refitted_schedule_survives_a_checkpoint()
    {
        var schedule = new LearningRateSchedule(0.1, 30, 3000).RefitFrom(1234, 4321);
        var store = new CheckpointStore(TempFolders.Create("diffautoml-schedule").FullName);
        store.Save(new CheckpointHeader { Schedule = schedule }, _ => { });
        var (header, reader) = store.Load();
        reader.Dispose();
        Assert.Equal(schedule, header.Schedule);
        Assert.Equal(schedule.At(2000), header.Schedule!.At(2000));
    }

    private static void AssertNonIncreasing(LearningRateSchedule schedule, long from, long to)
    {
        for (long step = from + 1; step <= to; step++)
            Assert.True(schedule.At(step) <= schedule.At(step - 1), $"the rate rose at step {step}: {schedule.At(step - 1)} -> {schedule.At(step)}");
    }
}
