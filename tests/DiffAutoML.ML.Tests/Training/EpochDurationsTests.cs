using DiffAutoML.ML.Training;

namespace DiffAutoML.ML.Tests.Training;

public class EpochDurationsTests
{
    [Fact]
    public void One_slow_epoch_among_steady_ones_does_not_move_the_expectation_but_two_do()
    {
        var durations = new EpochDurations();
        foreach (var s in new[] { 53.6, 52.8, 54.6 }) durations.Add(s);
        Assert.Equal(53.6, durations.Expected);
        durations.Add(72.8); // other work on the machine
        Assert.Equal(54.6, durations.Expected);
        durations.Add(70.0); // it lasts
        Assert.Equal(70.0, durations.Expected);
    }

    [Fact]
    public void The_first_epochs_of_a_stage_are_used_as_they_are_and_a_new_stage_forgets_the_old_one()
    {
        var durations = new EpochDurations();
        durations.Add(80);
        Assert.Equal(80, durations.Expected);
        durations.Add(70);
        Assert.Equal(75, durations.Expected);
        durations.StartStage();
        Assert.Throws<InvalidOperationException>(() => durations.Expected);
        durations.Add(50);
        Assert.Equal(50, durations.Expected);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_duration_that_is_not_a_time_is_refused(double seconds)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new EpochDurations().Add(seconds));
}
