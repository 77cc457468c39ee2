using DiffAutoML.ML.Data;
using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Data;

public class SplitAndBatchTests
{
    public SplitAndBatchTests() => TorchRuntime.EnsureCpu();

    [Fact]
    public void Stratified_split_takes_the_fraction_of_every_class_and_is_seeded()
    {
        var labels = Enumerable.Range(0, 300).Select(i => (long)(i < 200 ? 0 : i < 290 ? 1 : 2)).ToArray(); // 200, 90, 10
        var (train, validation) = StratifiedSplit.Split(labels, 3, 0.1, seed: 7);
        Assert.Equal(new[] { 20, 9, 1 }, Enumerable.Range(0, 3).Select(c => validation.Count(i => labels[i] == c)).ToArray());
        Assert.Equal(Enumerable.Range(0, 300), train.Concat(validation).OrderBy(i => i));
        Assert.Equal(validation, StratifiedSplit.Split(labels, 3, 0.1, seed: 7).Validation);
        Assert.NotEqual(validation, StratifiedSplit.Split(labels, 3, 0.1, seed: 8).Validation);
    }

    [Fact]
    public void Small_classes_still_give_validation_one_row_each()
    {
        // 4 rows per class at 10%: round(0.4) = 0, which left an empty validation part and no way to train 8 images.
        var labels = new long[] { 0, 0, 0, 0, 1, 1, 1, 1 };
        var (train, validation) = StratifiedSplit.Split(labels, 2, 0.1, seed: 1);
        Assert.Equal(new[] { 1, 1 }, Enumerable.Range(0, 2).Select(c => validation.Count(i => labels[i] == c)).ToArray());
        Assert.Equal(6, train.Length);
        Assert.Empty(StratifiedSplit.Split(labels, 2, 0, seed: 1).Validation);
    }

    [Fact]
    public void A_class_with_one_row_stays_in_training()
    {
        var (train, validation) = StratifiedSplit.Split(new long[] { 0, 0, 0, 0, 1 }, 2, 0.5, seed: 1);
        Assert.Contains(4, train);
        Assert.Equal(2, validation.Length);
    }

    [Fact]
    public void Channel_statistics_match_a_hand_computation()
    {
        // Two 1x2 RGB images; channel 0 values 0, 255, 255, 255 -> mean 191.25, std sqrt(12192.1875) = 110.42
        var pixels = new byte[] { 0, 255, 10, 10, 0, 0, /* image 2 */ 255, 255, 20, 20, 0, 0 };
        using var images = tensor(pixels, new long[] { 2, 3, 1, 2 });
        var stats = ChannelStatistics.Compute(images, new[] { 0, 1 });
        Assert.Equal(191.25 / 255, stats.Mean[0], 1e-5);
        Assert.Equal(Math.Sqrt(12192.1875) / 255, stats.Std[0], 1e-5);
        Assert.Equal(15.0 / 255, stats.Mean[1], 1e-5);
        Assert.Equal(5.0 / 255, stats.Std[1], 1e-5);
        Assert.Equal(1f, stats.Std[2]); // constant channel: no division by zero
        using var batch = tensor(new float[] { 255, 0 }, new long[] { 1, 1, 1, 2 });
        var one = new ChannelStatistics(new[] { 0.5f }, new[] { 0.25f });
        using var normalized = one.Normalize(batch);
        Assert.Equal(new float[] { 2, -2 }, normalized.data<float>().ToArray());
    }

    [Fact]
    public void Sampler_visits_every_row_once_per_epoch_in_a_seeded_order()
    {
        var rows = Enumerable.Range(100, 10).ToArray();
        var sampler = new MiniBatchSampler(rows, batchSize: 4, seed: 3, dropLast: false);
        var epoch0 = sampler.Epoch(0).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, epoch0.Select(b => b.Length));
        Assert.Equal(rows.Select(r => (long)r), epoch0.SelectMany(b => b).OrderBy(r => r));
        Assert.Equal(epoch0.SelectMany(b => b), new MiniBatchSampler(rows, 4, 3, false).Epoch(0).SelectMany(b => b));
        Assert.NotEqual(epoch0.SelectMany(b => b), sampler.Epoch(1).SelectMany(b => b));
        Assert.Equal(2, new MiniBatchSampler(rows, 4, 3, dropLast: true).BatchesPerEpoch);
    }

    [Fact]
    public void Batch_assembler_gathers_the_requested_rows_as_float()
    {
        using var images = tensor(Enumerable.Range(0, 3 * 4).Select(i => (byte)(10 * i)).ToArray(), new long[] { 3, 1, 2, 2 });
        using var cache = new ImageTensorCache(images.alias(), new long[] { 2, 0, 1 }, LabelMapping.FromValues(LabelKind.Text, Microsoft.ML.Data.TextDataViewType.Instance, new[] { "a", "b", "c" }), 0, Array.Empty<string>());
        using var assembler = new BatchAssembler(cache, CPU);
        using var scope = NewDisposeScope();
        var (x, y) = assembler.Gather(new long[] { 2, 0 });
        Assert.Equal(ScalarType.Float32, x.dtype);
        Assert.Equal(new float[] { 80, 90, 100, 110, 0, 10, 20, 30 }, x.data<float>().ToArray());
        Assert.Equal(new long[] { 1, 2 }, y.data<long>().ToArray());
        assembler.Dispose();
        Assert.Equal(3, cache.Images.shape[0]); // the cache's tensor survives the assembler
    }
}
