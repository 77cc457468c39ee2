using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Every image of a dataset, decoded once, as one uint8 tensor [N, C, H, W] (values 0..255), with the class index
/// of each row. Owns its tensors: dispose it when done.
/// </summary>
public sealed class ImageTensorCache : IDisposable
{
    internal ImageTensorCache(Tensor images, long[] labels, LabelMapping labelMapping, int skippedRows, IReadOnlyList<string> skipReasons)
    {
        Images = images;
        Labels = labels;
        LabelMapping = labelMapping;
        SkippedRows = skippedRows;
        SkipReasons = skipReasons;
        var counts = new int[labelMapping.ClassCount];
        foreach (var l in labels) counts[l]++;
        ClassCounts = counts;
    }

    /// <summary>uint8 tensor [N, C, H, W] on the CPU.</summary>
    public Tensor Images { get; private set; }

    /// <summary>Class index (0-based, see <see cref="LabelMapping"/>) of each image.</summary>
    public IReadOnlyList<long> Labels { get; }

    /// <summary>The classes and their order.</summary>
    public LabelMapping LabelMapping { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Count;

    /// <summary>Channels (1 or 3).</summary>
    public int Channels => (int)Images.shape[1];

    /// <summary>Height in pixels.</summary>
    public int Height => (int)Images.shape[2];

    /// <summary>Width in pixels.</summary>
    public int Width => (int)Images.shape[3];

    /// <summary>Images per class, indexed like <see cref="Data.LabelMapping.ClassNames"/>.</summary>
    public IReadOnlyList<int> ClassCounts { get; }

    /// <summary>Rows left out because their image or label was bad (only with <see cref="ImageDataOptions.SkipBadRows"/>).</summary>
    public int SkippedRows { get; }

    /// <summary>Why rows were skipped (the first 20 reasons).</summary>
    public IReadOnlyList<string> SkipReasons { get; }

    /// <summary>The typical image's (height, width) when the automatic size scaled it down (of the first rows, the image
    /// with the median aspect ratio; <see cref="ImageDataOptions.AutomaticMaxSide"/>); null otherwise.</summary>
    public (int Height, int Width)? ScaledDownFrom { get; internal init; }

    /// <summary>Bytes held by the image tensor.</summary>
    public long SizeInBytes => Images.NumberOfElements;

    /// <summary>
    /// A SHA-256 of the class names, every label and the pixels (of every image while they are at most
    /// <paramref name="maxPixelBytes"/>, else of evenly spaced images within it), in hexadecimal. Checkpoints carry it,
    /// so that a search is not resumed on other images of the same count, size and classes.
    /// </summary>
    public string ContentHash(long maxPixelBytes = 64L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixelBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in LabelMapping.ClassNames) hash.AppendData(Encoding.UTF8.GetBytes(name + "\n"));
        var labels = new byte[Count * sizeof(long)];
        for (int i = 0; i < Count; i++) BitConverter.TryWriteBytes(labels.AsSpan(i * sizeof(long)), Labels[i]);
        hash.AppendData(labels);
        if (Count > 0)
        {
            long imageBytes = (long)Channels * Height * Width;
            long stride = Math.Max(1, (Count * imageBytes + maxPixelBytes - 1) / maxPixelBytes);
            using var scope = NewDisposeScope();
            var rows = Enumerable.Range(0, (int)((Count + stride - 1) / stride)).Select(i => i * stride).ToArray();
            var sample = stride == 1 ? Images.contiguous() : Images.index_select(0, tensor(rows)).contiguous();
            hash.AppendData(sample.bytes);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <inheritdoc />
    public void Dispose() => Images.Dispose();
}
