using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

public class ArchitectureParametersTests
{
    public ArchitectureParametersTests() => TorchRuntime.EnsureCpu();

    private static SearchSpace Tiny() => new(new SearchSpaceOptions { Preset = SearchSpacePreset.Tiny, InputChannels = 1, Height = 12 });

    [Fact]
    public void Alpha_gradient_is_dL_dZ_times_onehot_minus_softmax()
    {
        // Two layers, plain SGD with lr 1: the step equals minus the gradient.
        var options = new ArchitectureSearchOptions { Optimizer = ArchitectureOptimizer.Sgd, LearningRate = 1, Momentum = 0, EarlyFixMargin = 2 };
        using var alpha = new ArchitectureParameters(Tiny(), options, CPU, seed: 1);
        var initial = new float[] { 0.2f, -0.5f, 1.0f, 0.0f, /* layer 2 */ 0.0f, 0.3f, -0.2f, 0.6f };
        alpha.LoadState(initial, new int?[2]);
        var path = new[] { 2, 1 };
        using var scope = NewDisposeScope();
        var z = alpha.Gates(path);
        // L = sum(W * Z): dL/dZ = W, so dL/dZ_l[s] = W[l, s_l] = 0.7 and -1.5.
        var w = tensor(new float[] { 0.1f, 0.4f, 0.7f, -0.2f, 2.0f, -1.5f, 0.3f, 0.9f }, new long[] { 2, 4 });
        (z * w).sum().backward();
        alpha.Step(ArchitectureParameters.GateGradientsFrom(z, path), path);
        var after = alpha.SaveState();
        double[] Softmax(float[] v, int l) { var e = v.Skip(4 * l).Take(4).Select(x => Math.Exp(x)).ToArray(); var s = e.Sum(); return e.Select(x => x / s).ToArray(); }
        var dz = new[] { 0.7, -1.5 };
        for (int l = 0; l < 2; l++)
        {
            var p = Softmax(initial, l);
            for (int c = 0; c < 4; c++)
            {
                double grad = dz[l] * ((c == path[l] ? 1 : 0) - p[c]);
                Assert.Equal(initial[4 * l + c] - grad, after[4 * l + c], 1e-5);
            }
        }
    }

    [Fact]
    public void A_loss_that_favours_one_block_raises_its_probability()
    {
        var space = Tiny();
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { LearningRate = 0.05, EarlyFixMargin = 2 }, CPU, seed: 4);
        var blockLoss = tensor(new float[] { 1.0f, 1.0f, 0.2f, 1.0f });
        for (int step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            var path = alpha.SamplePath();
            var z = alpha.Gates(path);
            (z * blockLoss).sum().backward();
            alpha.Step(ArchitectureParameters.GateGradientsFrom(z, path), path);
        }
        var p = alpha.Probabilities();
        Assert.All(p, layer => Assert.Equal(2, Array.IndexOf(layer, layer.Max())));
        Assert.All(p, layer => Assert.True(layer[2] > 0.5, string.Join(", ", layer)));
        Assert.Equal("k7 k7", BlockChoices.Describe(alpha.ArgmaxPath()));
        Assert.True(alpha.MeanEntropy() < Math.Log(4) - 0.2);
    }

    [Fact]
    public void Decided_layers_are_fixed_and_no_longer_sampled_or_updated()
    {
        using var alpha = new ArchitectureParameters(Tiny(), new ArchitectureSearchOptions { EarlyFixMargin = 0.3 }, CPU, seed: 2);
        alpha.LoadState(new float[] { 0, 0, 3, 0, 0, 0, 0, 0 }, new int?[2]); // layer 0 decided (p = 0.87 vs 0.04)
        using var scope = NewDisposeScope();
        var path = alpha.SamplePath();
        var z = alpha.Gates(path);
        z.sum().backward();
        alpha.Step(ArchitectureParameters.GateGradientsFrom(z, path), path);
        Assert.Equal(2, alpha.FixedChoices[0]);
        Assert.Null(alpha.FixedChoices[1]);
        var before = alpha.SaveState();
        for (int i = 0; i < 20; i++)
        {
            var p2 = alpha.SamplePath();
            Assert.Equal(2, p2[0]);
            var z2 = alpha.Gates(p2);
            (z2 * 5).sum().backward();
            alpha.Step(ArchitectureParameters.GateGradientsFrom(z2, p2), p2);
        }
        Assert.Equal(before.Take(4), alpha.SaveState().Take(4)); // the fixed layer's logits no longer move
    }

    [Fact]
    public void A_child_within_budget_is_returned_when_the_argmax_child_is_over_it()
    {
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 2 }, StageChannels = new[] { 32, 64 }, InputChannels = 1, Height = 16 });
        var allK7 = Enumerable.Repeat(2, 4).ToArray();
        var allK3 = Enumerable.Repeat(0, 4).ToArray();
        double budget = (space.ChildMultiplyAdds(allK3) + space.ChildMultiplyAdds(allK7)) / 2e6;
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { MaxMFlops = budget }, CPU, seed: 1);
        var random = new Random(5);
        var logits = Enumerable.Range(0, 16).Select(i => (float)(i % 4 == 2 ? 2 + random.NextDouble() : random.NextDouble())).ToArray();
        alpha.LoadState(logits, new int?[4]);
        Assert.Equal(allK7, alpha.ArgmaxPath());
        Assert.False(alpha.WithinBudget(allK7));

        var chosen = alpha.Freeze();
        Assert.True(space.ChildMultiplyAdds(chosen) <= budget * 1e6);
        // Exact enumeration of all 256 children: the chosen one is the most probable within budget.
        var p = alpha.Probabilities();
        var best = Enumerable.Range(0, 256).Select(code => Enumerable.Range(0, 4).Select(l => code >> (2 * l) & 3).ToArray())
            .Where(path => space.ChildMultiplyAdds(path) <= budget * 1e6)
            .MaxBy(path => path.Select((c, l) => Math.Log(p[l][c])).Sum());
        Assert.Equal(best, chosen);
        Assert.True(alpha.IsFrozen);
    }

    [Fact]
    public void Unreachable_budget_and_bad_options_are_rejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureParameters(Tiny(), new ArchitectureSearchOptions { MaxMFlops = 0.001 }, CPU, 1));
        Assert.Contains("smallest child", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureParameters(Tiny(), new ArchitectureSearchOptions { LearningRate = -1 }, CPU, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureParameters(Tiny(), new ArchitectureSearchOptions { Beta1 = 1 }, CPU, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureParameters(Tiny(), new ArchitectureSearchOptions { MaxParameters = 0 }, CPU, 1));
    }
}
