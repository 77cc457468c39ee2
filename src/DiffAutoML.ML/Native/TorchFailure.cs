using System.Runtime.InteropServices;
using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>
/// Recognizes libtorch failures whose cause a user can act on and words them as .NET exceptions that say what to change.
/// </summary>
internal static class TorchFailure
{
    /// <summary>
    /// True when libtorch could not allocate memory: "CUDA out of memory" from the CUDA caching allocator, or
    /// "DefaultCPUAllocator: can't allocate memory" on the CPU. TorchSharp passes both on as <see cref="ExternalException"/>.
    /// </summary>
    public static bool IsOutOfMemory(Exception e)
        => e is ExternalException
           && (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("DefaultCPUAllocator", StringComparison.Ordinal));

    /// <summary>The error Fit throws when training ran out of memory: the device, the batch sizes, and what to lower.</summary>
    public static InvalidOperationException OutOfMemory(ExternalException e, torch.Device device, int batchSize, int validationBatchSize)
    {
        var cause = e.Message.Split('\n')[0].Trim();
        var cpu = device.type == DeviceType.CUDA ? ", or train on the CPU (Device = Cpu)" : "";
        return new InvalidOperationException(
            $"Training ran out of memory on {device} with BatchSize {batchSize} (validation batch {validationBatchSize}). " +
            $"Lower BatchSize, or use a narrower search space (fewer channels in SearchSpaceOptions; CLI --width){cpu}. libtorch said: {cause}", e);
    }
}
