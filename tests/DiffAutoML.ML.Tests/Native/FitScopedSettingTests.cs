using DiffAutoML.ML.Native;

namespace DiffAutoML.ML.Tests.Native;

public class FitScopedSettingTests
{
    [Fact]
    public void Overlapping_fits_share_the_setting_and_the_first_value_comes_back_after_the_last()
    {
        int value = 7;
        var writes = new List<int>();
        var setting = new FitScopedSetting<int>(() => value, v => { value = v; writes.Add(v); });
        var first = setting.Hold(2);
        Assert.Equal(2, value);
        var second = setting.Hold(3); // the latest to start sets it
        Assert.Equal(3, value);
        first.Dispose();
        Assert.Equal(3, value); // the first to end must not restore while the second runs
        first.Dispose(); // a second dispose releases nothing more
        Assert.Equal(3, value);
        second.Dispose();
        Assert.Equal(7, value);
        Assert.Equal(new[] { 2, 3, 7 }, writes);
    }

    [Fact]
    public void A_fit_without_a_value_changes_nothing_and_does_not_hold_the_setting()
    {
        int value = 7;
        var setting = new FitScopedSetting<int>(() => value, v => value = v);
        using (setting.Hold(null)) Assert.Equal(7, value);
        var held = setting.Hold(4);
        setting.Hold(null).Dispose(); // must not end the other Fit's share
        Assert.Equal(4, value);
        held.Dispose();
        Assert.Equal(7, value);
    }
}
