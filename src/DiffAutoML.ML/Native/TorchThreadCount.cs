using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>TorchSharp's CPU thread count, set for one Fit and put back when the last Fit that set it ends
/// (<see cref="FitScopedSetting{T}"/> says why and how overlapping Fits share it).</summary>
internal static class TorchThreadCount
{
    private static readonly FitScopedSetting<int> Setting = new(torch.get_num_threads, torch.set_num_threads);

    /// <summary>Sets the count when <paramref name="threads"/> has a value; disposing the result ends this Fit's share.</summary>
    public static IDisposable Set(int? threads)
    {
        if (threads is not null) TorchRuntime.EnsureCpu();
        return Setting.Hold(threads);
    }
}
