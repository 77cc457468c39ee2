using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Holds an image cache's tensors on the training device (moved once) and gathers mini-batches there,
/// so a step costs one index_select and one cast instead of a host-to-device copy.
/// </summary>
public sealed class BatchAssembler : IDisposable
{
    private readonly Tensor _images;
    private readonly Tensor _labels;

    /// <summary>Copies the cache's images and labels to <paramref name="device"/>.</summary>
    public BatchAssembler(ImageTensorCache cache, Device device)
    {
        ArgumentNullException.ThrowIfNull(cache);
        Device = device;
        // alias on the same device: disposing this assembler must not dispose the cache's own tensor.
        _images = cache.Images.device_type == device.type ? cache.Images.alias() : cache.Images.to(device);
        _labels = tensor(cache.Labels.ToArray(), device: device);
    }

    /// <summary>The device batches are built on.</summary>
    public Device Device { get; }

    /// <summary>
    /// The images of <paramref name="rows"/> as float32 [B, C, H, W] with values 0..255 (augmentation works on this
    /// scale), and their class indices as int64 [B]. The tensors belong to the caller's dispose scope.
    /// </summary>
    public (Tensor Images, Tensor Labels) Gather(long[] rows)
    {
        using var hostRows = tensor(rows);
        using var index = HostToDevice.Copy(hostRows, Device);
        return (_images.index_select(0, index).to(ScalarType.Float32), _labels.index_select(0, index));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _images.Dispose();
        _labels.Dispose();
    }
}
