using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Reference;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Augmentation;

/// <summary>The batched tensor operations against the per-image ImageSharp reference on random images.</summary>
public class ReferenceComparisonTests
{
    public ReferenceComparisonTests() => TorchRuntime.EnsureCpu();

    public static TheoryData<AugmentationOperation, int> Cases()
    {
        var data = new TheoryData<AugmentationOperation, int>();
        foreach (var op in Enum.GetValues<AugmentationOperation>())
            foreach (var channels in new[] { 1, 3 }) data.Add(op, channels);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batched_operation_equals_the_per_image_reference(AugmentationOperation op, int channels)
    {
        using var scope = NewDisposeScope();
        const int batch = 12, height = 13, width = 10;
        var random = new Random(42 + (int)op * 7 + channels);
        var pixels = new float[batch * channels * height * width];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = random.Next(256);
        // Some images with a narrow range, so AutoContrast and Equalize have work to do.
        for (int i = 0; i < channels * height * width; i++) pixels[i] = 100 + (pixels[i] % 20);
        var images = tensor(pixels, new long[] { batch, channels, height, width });
        var levels = Enumerable.Range(0, batch).Select(i => (float)(i * 10.0 / (batch - 1))).ToArray();
        var signs = Enumerable.Range(0, batch).Select(i => i % 2 == 0 ? 1f : -1f).ToArray();

        var batched = BatchAugmenter.Apply(images, Enumerable.Repeat(op, batch).ToArray(), tensor(levels), tensor(signs), fill: 0)
            .contiguous().data<float>().ToArray();

        int plane = height * width, worst = 0;
        for (int n = 0; n < batch; n++)
        {
            using var image = new Image<Rgb24>(width, height);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    byte Value(int c) => (byte)pixels[(n * channels + (channels == 1 ? 0 : c)) * plane + y * width + x];
                    image[x, y] = new Rgb24(Value(0), Value(1), Value(2));
                }
            using var expected = PerImageAugmentation.Apply(image, op, levels[n], (int)signs[n]);
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        var p = expected[x, y];
                        int want = c == 0 ? p.R : c == 1 ? p.G : p.B;
                        int got = (int)batched[(n * channels + c) * plane + y * width + x];
                        worst = Math.Max(worst, Math.Abs(want - got));
                    }
        }
        // Within one grey level (float32 blend factors can round differently); geometric ops must be exact.
        Assert.True(worst <= (AugmentationMagnitudes.IsGeometric(op) ? 0 : 1), $"{op}: largest difference {worst}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void A_mixed_batch_gives_every_sample_exactly_what_its_own_operation_gives_it_alone(int channels)
    {
        // The batch is grouped by operation and scattered back: a bookkeeping slip would move or mix samples.
        using var scope = NewDisposeScope();
        const int batch = 40;
        var generator = new Generator(11);
        var images = randint(0, 256, new long[] { batch, channels, 9, 11 }, generator: generator).to(ScalarType.Float32);
        var operations = Enumerable.Range(0, batch).Select(i => (AugmentationOperation)((i * 5 + i / 14) % 14)).ToArray();
        var levels = rand(new long[] { batch }, generator: generator) * 10;
        var signs = rand(new long[] { batch }, generator: generator).lt(0.5).to(ScalarType.Float32) * 2 - 1;

        var mixed = BatchAugmenter.Apply(images, operations, levels, signs, fill: 128);
        for (int i = 0; i < batch; i++)
        {
            var alone = BatchAugmenter.Apply(images.narrow(0, i, 1), new[] { operations[i] }, levels.narrow(0, i, 1), signs.narrow(0, i, 1), fill: 128);
            Assert.True(mixed.narrow(0, i, 1).eq(alone).all().item<bool>(), $"sample {i} ({operations[i]}) differs from its operation applied alone");
        }
        Assert.False(mixed.eq(images).all().item<bool>());
    }

    [Theory]
    [InlineData(1, 128.0)]
    [InlineData(3, 128.0)]
    [InlineData(3, 127.5)]
    public void Selection_without_a_host_read_gives_the_grouped_pixels_bit_for_bit(int channels, double fill)
    {
        // The CUDA path (every operation for the whole batch, each sample taking its own) against the CPU path (grouped).
        // Two stages as the policy runs them, so the second stage also sees fill pixels (127.5: not a whole number, which
        // a table or blend applied to a sample of another operation would round).
        using var scope = NewDisposeScope();
        const int batch = 84;
        var generator = new Generator(23);
        var images = randint(0, 256, new long[] { batch, channels, 13, 10 }, generator: generator).to(ScalarType.Float32);
        images[TensorIndex.Slice(0, 4)] = full(4, channels, 13, 10, 200f); // flat images: AutoContrast and Equalize keep them
        var grouped = images;
        var selected = images;
        for (int stage = 0; stage < 2; stage++)
        {
            var operations = randperm(batch, generator: generator).remainder(14); // every operation six times
            var levels = rand(new long[] { batch }, generator: generator) * 10;
            levels[TensorIndex.Slice(0, 14)] = stage == 0 ? zeros(14) : full(14, 10f); // the extreme levels
            var signs = rand(new long[] { batch }, generator: generator).lt(0.5).to(ScalarType.Float32) * 2 - 1;
            grouped = BatchAugmenter.Apply(grouped, operations, levels, signs, fill);
            selected = BatchAugmenter.ApplyBySelection(selected, operations, levels, signs, fill);
            Assert.True(grouped.eq(selected).all().item<bool>(),
                $"stage {stage}: largest difference {(grouped - selected).abs().max().item<float>()}");
        }
        Assert.False(selected.eq(images).all().item<bool>());
        if (fill % 1 != 0) Assert.True(selected.eq(fill).any().item<bool>(), "no fill pixel reached the second stage");
    }

    [Fact]
    public void Selection_leaves_identity_samples_and_a_one_channel_colour_change_untouched()
    {
        using var scope = NewDisposeScope();
        var images = randint(0, 256, new long[] { 6, 1, 8, 8 }, generator: new Generator(5)).to(ScalarType.Float32);
        var operations = tensor(new long[] { (long)AugmentationOperation.Identity, (long)AugmentationOperation.Color, (long)AugmentationOperation.Identity,
            (long)AugmentationOperation.Color, (long)AugmentationOperation.Sharpness, (long)AugmentationOperation.Rotate });
        var levels = full(6, 9f);
        var signs = ones(6);
        var selected = BatchAugmenter.ApplyBySelection(images, operations, levels, signs, 0);
        Assert.True(selected.narrow(0, 0, 4).eq(images.narrow(0, 0, 4)).all().item<bool>());
        Assert.False(selected.narrow(0, 4, 2).eq(images.narrow(0, 4, 2)).all().item<bool>());
    }
}
