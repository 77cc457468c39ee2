using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Native;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Augmentation;

public class AugmentationPolicyTests
{
    public AugmentationPolicyTests() => TorchRuntime.EnsureCpu();

    private static AugmentationOptions TwoOps(double lr = 1) => new()
    {
        Operations = new[] { AugmentationOperation.Identity, AugmentationOperation.Solarize },
        LearningRate = lr, Momentum = 0, WeightDecay = 0,
    };

    [Fact]
    public void Full_space_has_196_sub_policies_starting_uniform()
    {
        using var policy = new AugmentationPolicy(new AugmentationOptions(), CPU);
        Assert.Equal(196, policy.SubPolicyCount);
        Assert.Equal(Math.Log(196), policy.Entropy(), 1e-6);
        Assert.Equal((AugmentationOperation.Rotate, AugmentationOperation.Color), policy.SubPolicy(2 * 14 + 5));
        using var geometric = new AugmentationPolicy(new AugmentationOptions { Space = AugmentationSpace.Geometric }, CPU);
        Assert.Equal(16, geometric.SubPolicyCount);
        Assert.All(Enumerable.Range(0, 16), k => Assert.True(AugmentationMagnitudes.IsGeometric(geometric.SubPolicy(k).First)));
    }

    [Fact]
    public void Loss_gradient_matches_the_analytic_value()
    {
        using var policy = new AugmentationPolicy(TwoOps(), CPU);
        using var scope = NewDisposeScope();
        using (no_grad()) policy.Logits.copy_(tensor(new float[] { 0.5f, -1f, 2f, 0f }));
        var k = new long[] { 2, 0, 2, 3, 1 };
        var ce = new float[] { 1.5f, 0.2f, 2.0f, 0.7f, 3.0f };
        var sample = new AugmentationSample(tensor(k), zeros(5, ScalarType.Int64), zeros(5, ScalarType.Int64), zeros(5, 2), ones(5, 2));
        policy.Logits.grad?.zero_();
        policy.Loss(tensor(ce), sample).backward();
        var grad = policy.Logits.grad!.data<float>().ToArray();

        // dL/dtau_j = -(1/B) sum_i CE_i p_{k_i} (delta_{k_i j} - p_j)
        var logits = new[] { 0.5, -1, 2, 0 };
        var p = logits.Select(Math.Exp).ToArray();
        var z = p.Sum();
        p = p.Select(v => v / z).ToArray();
        for (int j = 0; j < 4; j++)
        {
            double expected = 0;
            for (int i = 0; i < k.Length; i++) expected -= ce[i] * p[k[i]] * ((k[i] == j ? 1 : 0) - p[j]) / k.Length;
            Assert.Equal(expected, grad[j], 1e-5);
        }
    }

    [Fact]
    public void Training_tau_favours_the_sub_policies_that_make_samples_harder()
    {
        // Pairs of {Identity, Solarize}; a sample's "loss" is how much its pair changed it, so Identity+Identity is
        // easy (0) and the pairs with Solarize are hard. Training tau on eq. 2 must move it to the hardest pair.
        var options = TwoOps(lr: 50) with { Momentum = 0.9 };
        using var policy = new AugmentationPolicy(options, CPU);
        var generator = new Generator(3);
        var hardnessSum = new double[4];
        var draws = new int[4];
        for (int step = 0; step < 150; step++)
        {
            using var scope = NewDisposeScope();
            var images = randint(0, 256, new long[] { 32, 1, 6, 6 }, generator: generator).to(ScalarType.Float32);
            var sample = policy.Sample(32, generator);
            var augmented = policy.Augment(images, sample);
            var hardness = (augmented - images).abs().mean(new long[] { 1, 2, 3 }) / 255;
            var k = sample.SubPolicies.data<long>().ToArray();
            var h = hardness.data<float>().ToArray();
            for (int i = 0; i < k.Length; i++) { hardnessSum[k[i]] += h[i]; draws[k[i]]++; }
            policy.Step(hardness, sample);
        }
        var meanHardness = Enumerable.Range(0, 4).Select(k => draws[k] == 0 ? 0 : hardnessSum[k] / draws[k]).ToArray();
        var p = policy.Probabilities();
        var report = $"p = {string.Join(", ", p.Select(v => v.ToString("F3")))}; mean hardness = {string.Join(", ", meanHardness.Select(v => v.ToString("F3")))}";
        Assert.Equal(0, meanHardness[0]); // Identity+Identity changes nothing
        int hardest = Array.IndexOf(meanHardness, meanHardness.Max());
        Assert.True(Array.IndexOf(p, p.Max()) == hardest && p[hardest] > 0.5, report);
        Assert.True(p[0] < 0.05, report);
        Assert.True(policy.Entropy() < Math.Log(4) - 0.5, report);
    }

    [Fact]
    public void The_same_seed_draws_the_same_sub_policies_and_magnitudes()
    {
        using var policy = new AugmentationPolicy(new AugmentationOptions(), CPU);
        using var scope = NewDisposeScope();
        var a = policy.Sample(64, new Generator(11));
        var b = policy.Sample(64, new Generator(11));
        var c = policy.Sample(64, new Generator(12));
        Assert.Equal(a.First.data<long>().ToArray(), b.First.data<long>().ToArray());
        Assert.Equal(a.Second.data<long>().ToArray(), b.Second.data<long>().ToArray());
        Assert.Equal(a.Levels.data<float>().ToArray(), b.Levels.data<float>().ToArray());
        Assert.Equal(a.Signs.data<float>().ToArray(), b.Signs.data<float>().ToArray());
        Assert.NotEqual(a.SubPolicies.data<long>().ToArray(), c.SubPolicies.data<long>().ToArray());
        // First and second operations decode the sub-policy index: k = 14 first + second (enum order).
        Assert.Equal(a.SubPolicies.data<long>().ToArray(), a.First.data<long>().ToArray().Zip(a.Second.data<long>().ToArray(), (f, s) => 14 * f + s));
        Assert.All(a.Levels.data<float>().ToArray(), l => Assert.InRange(l, 0f, 10f));
        Assert.All(a.Signs.data<float>().ToArray(), s => Assert.True(s is 1f or -1f));
        // 64 draws from 196 uniform sub-policies: many distinct pairs, not one repeated.
        Assert.True(a.SubPolicies.data<long>().ToArray().Distinct().Count() > 40);
    }

    [Fact]
    public void Options_are_validated_and_copied()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationPolicy(new AugmentationOptions { Operations = Array.Empty<AugmentationOperation>() }, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationPolicy(new AugmentationOptions { Operations = new[] { AugmentationOperation.Color, AugmentationOperation.Color } }, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationPolicy(new AugmentationOptions { LearningRate = double.NaN }, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationPolicy(new AugmentationOptions { Momentum = 1 }, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentationPolicy(new AugmentationOptions { FillValue = 300 }, CPU));
        var options = new AugmentationOptions { LearningRate = 3 };
        using var policy = new AugmentationPolicy(options, CPU);
        options.LearningRate = 7;
        Assert.Equal(3, policy.Options.LearningRate);
    }

    [Fact]
    public void A_sub_policy_is_its_first_operation_then_its_second_with_the_group_sizes_read_once()
    {
        using var policy = new AugmentationPolicy(new AugmentationOptions { FillValue = 17 }, CPU);
        using var scope = NewDisposeScope();
        var sample = policy.Sample(96, new Generator(21));
        var images = randint(0, 256, new long[] { 96, 3, 10, 12 }, generator: new Generator(22)).to(ScalarType.Float32);
        // The two stages applied one after the other, each reading its own group sizes.
        var once = BatchAugmenter.Apply(images, sample.First, sample.Levels.select(1, 0), sample.Signs.select(1, 0), 17);
        var expected = BatchAugmenter.Apply(once, sample.Second, sample.Levels.select(1, 1), sample.Signs.select(1, 1), 17);
        Assert.Equal(expected.data<float>().ToArray(), policy.Augment(images, sample).data<float>().ToArray());
        Assert.False(expected.eq(images).all().item<bool>());

        var sizes = BatchAugmenter.GroupSizes(tensor(new long[] { 3, 0, 3, 13 }), tensor(new long[] { 5, 5, 5, 5 }));
        Assert.Equal(new long[] { 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, sizes[0]);
        Assert.Equal(4, sizes[1][5]);
        Assert.Equal(4, sizes[1].Sum());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BatchAugmenter.GroupSizes(tensor(new long[] { 1, 2 }), tensor(new long[] { 14, 2 })));
        Assert.Contains("0..13", e.Message);
        Assert.Throws<ArgumentException>(() => BatchAugmenter.Apply(images, sample.First, sample.Levels.select(1, 0), sample.Signs.select(1, 0), 0, sizes[0]));
    }
}
