using DiffAutoML.ML.Search;

namespace DiffAutoML.ML.Training;

/// <summary>
/// Refuses a CPU run whose training step cannot fit in memory, before it starts. On Linux such a run is not an
/// exception: the kernel kills the process (24 photos of 1600x1200 at batch 22 were killed at 24 GB after 84 s).
/// CUDA needs no estimate: libtorch raises its out-of-memory error there, and Fit reports it.
/// </summary>
internal static class StepMemoryCheck
{
    /// <summary>
    /// Bytes one image needs in a training step per value of <see cref="SearchSpace.LargestChildActivations"/>: float32
    /// (4 bytes) times 1.4. Measured on the CPU (peak resident memory of `diffautoml train` on 3-channel images of 224 to
    /// 640 pixels, one epoch, at two batch sizes each, the slope per image): 1.45 to 2.5 times the float32 activations
    /// with glibc's malloc as it comes, 2.5 to 2.6 with the allocator kept from unmapping during Fit (NativeAllocator);
    /// 1.4 keeps the estimate under the measurements, so that no run that fits is refused.
    /// </summary>
    public const double BytesPerActivation = 4 * 1.4;

    /// <summary>The estimated memory of one training step's activations for <paramref name="batchSize"/> images.</summary>
    public static long StepBytes(SearchSpace space, int batchSize) => (long)(space.LargestChildActivations * BytesPerActivation * batchSize);

    /// <exception cref="InvalidOperationException">The estimate is over <paramref name="availableBytes"/>.</exception>
    public static void ThrowIfTooLarge(SearchSpace space, int batchSize, long availableBytes)
    {
        long needed = StepBytes(space, batchSize);
        if (needed <= availableBytes) return;
        var o = space.Options;
        throw new InvalidOperationException(
            $"Training on {o.InputChannels}x{o.Height}x{o.Width} images at batch size {batchSize} needs about {Gib(needed)} of memory for one step " +
            $"(an estimate from the network's activations), and this machine has {Gib(availableBytes)}. Lower Data.Height and Data.Width " +
            "(images are resized to them, in training and by the deployed model alike) or BatchSize.");
    }

    private static string Gib(long bytes) => $"{bytes / (double)(1L << 30):F1} GiB";
}
