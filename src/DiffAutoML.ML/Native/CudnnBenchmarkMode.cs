namespace DiffAutoML.ML.Native;

/// <summary>cuDNN's benchmark mode (<see cref="LibtorchContextFlag.CudnnBenchmark"/>), set for one Fit on CUDA and put
/// back when the last Fit that set it ends (<see cref="FitScopedSetting{T}"/>).</summary>
internal static class CudnnBenchmarkMode
{
    private static readonly FitScopedSetting<bool> Setting = new(
        () => LibtorchContextFlag.CudnnBenchmark.Get() ?? false, enabled => LibtorchContextFlag.CudnnBenchmark.TrySet(enabled));

    /// <summary>Sets the mode when <paramref name="enabled"/> has a value and libtorch's flag can be reached; where it
    /// cannot (not Linux x64), says so through <paramref name="log"/> and changes nothing.</summary>
    public static IDisposable Set(bool? enabled, Action<string> log)
    {
        if (enabled is bool chosen && LibtorchContextFlag.CudnnBenchmark.Get() is null)
        {
            log($"CudnnBenchmark = {chosen} is not applied: libtorch's flag is reached only on Linux x64 (docs/gpu.md, \"Settings for a GPU\").");
            return Setting.Hold(null);
        }
        return Setting.Hold(enabled);
    }
}
