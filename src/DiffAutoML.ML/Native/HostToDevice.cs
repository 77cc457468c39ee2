using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Native;

/// <summary>
/// Copies the small host tensors of a training step (batch row indices, random draws made on the CPU, the sampled path)
/// to the training device without making the CPU wait for the device.
/// </summary>
/// <remarks>
/// libtorch's ordinary host-to-CUDA copy synchronizes the stream after the copy (its non-blocking path is taken only
/// when asked), so each such copy waited for every operation queued before it, several times a step. A copy from pinned
/// (page-locked) memory with non_blocking does not wait; the pinned block comes from libtorch's pinned-memory cache,
/// which keeps it until the copy has run, so the host tensor may be released at once. On the CPU the tensor is
/// returned as it is (an alias).
/// </remarks>
internal static class HostToDevice
{
    /// <summary><paramref name="host"/> (a CPU tensor) on <paramref name="device"/>; a new tensor the caller owns.</summary>
    public static Tensor Copy(Tensor host, Device device)
    {
        if (device.type != DeviceType.CUDA) return host.device_type == device.type ? host.alias() : host.to(device);
        using var pinned = host.pin_memory();
        return pinned.to(device, non_blocking: true);
    }
}
