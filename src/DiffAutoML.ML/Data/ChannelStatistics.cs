using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Data;

/// <summary>Per-channel mean and standard deviation of pixel values, on the 0..1 scale.</summary>
public sealed record ChannelStatistics(float[] Mean, float[] Std)
{
    /// <summary>Computes the statistics over the given rows of a uint8 image tensor [N, C, H, W], in chunks so that
    /// no float copy of the whole set is made. Exact (double accumulation).</summary>
    public static ChannelStatistics Compute(Tensor images, IReadOnlyList<int> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("No rows to compute channel statistics from.", nameof(rows));
        int channels = (int)images.shape[1];
        var sum = new double[channels];
        var sumSq = new double[channels];
        const int chunk = 4096;
        for (int start = 0; start < rows.Count; start += chunk)
        {
            using var scope = NewDisposeScope();
            var index = tensor(rows.Skip(start).Take(chunk).Select(r => (long)r).ToArray());
            var x = images.index_select(0, index).to(ScalarType.Float64);
            var s = x.sum(new long[] { 0, 2, 3 }).data<double>().ToArray();
            var s2 = x.square().sum(new long[] { 0, 2, 3 }).data<double>().ToArray();
            for (int c = 0; c < channels; c++) { sum[c] += s[c]; sumSq[c] += s2[c]; }
        }
        double n = (double)rows.Count * images.shape[2] * images.shape[3];
        var mean = new float[channels];
        var std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / n;
            double variance = Math.Max(0, sumSq[c] / n - m * m);
            mean[c] = (float)(m / 255.0);
            // A constant channel would divide by zero when normalizing; 1 leaves it merely centred.
            std[c] = variance > 1e-12 ? (float)(Math.Sqrt(variance) / 255.0) : 1f;
        }
        return new ChannelStatistics(mean, std);
    }

    /// <summary>Normalizes a float batch of 0..255 values: (x / 255 - mean) / std, per channel.</summary>
    public Tensor Normalize(Tensor batch)
    {
        using var scope = NewDisposeScope();
        var device = batch.device;
        var m = HostToDevice.Copy(tensor(Mean, new long[] { 1, Mean.Length, 1, 1 }), device);
        var s = HostToDevice.Copy(tensor(Std, new long[] { 1, Std.Length, 1, 1 }), device);
        return (batch / Scalars.Of(255.0) - m).div_(s).MoveToOuterDisposeScope();
    }
}
