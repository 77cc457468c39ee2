using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

/// <summary><see cref="ArchitectureSearchOptions.Candidates"/>: a block left out is never drawn, learned or chosen, and
/// the distribution over the others is the softmax of their logits alone.</summary>
public class CandidateBlocksTests
{
    public CandidateBlocksTests() => TorchRuntime.EnsureCpu();

    private static readonly BlockChoice[] KernelsOnly = { BlockChoice.Shuffle3, BlockChoice.Shuffle5, BlockChoice.Shuffle7 };

    [Fact]
    public void Probabilities_are_the_softmax_over_the_candidates_and_zero_elsewhere()
    {
        using var alpha = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions { Candidates = KernelsOnly }, CPU, seed: 1);
        Assert.Equal(Math.Log(3), alpha.MeanEntropy(), 1e-6); // float32 softmax
        // Logits 0, 1, 2 for k3, k5, k7 and 9 for the left-out Xception block.
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => (float)(i % 4 == 3 ? 9 : i % 4)).ToArray(), new int?[4]);
        double z = 1 + Math.E + Math.Exp(2);
        foreach (var row in alpha.Probabilities())
        {
            Assert.Equal(new[] { 1 / z, Math.E / z, Math.Exp(2) / z, 0 }, row, (a, b) => Math.Abs(a - b) < 1e-6);
        }
        Assert.Equal(new[] { 2, 2, 2, 2 }, alpha.ArgmaxPath());
        Assert.Equal(new[] { 2, 2, 2, 2 }, alpha.Freeze());
    }

    [Fact]
    public void A_left_out_block_is_never_drawn_and_its_logits_never_move()
    {
        // The last candidate is drawn when rounding leaves the uniform number above the summed probabilities; the old
        // loop fell through to the last choice (Xception) whether or not it could be drawn.
        using var alpha = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions { Candidates = KernelsOnly, LearningRate = 0.5, EarlyFixMargin = 2 }, CPU, seed: 4);
        var before = alpha.SaveState();
        var drawn = new int[BlockChoices.Count];
        for (int step = 0; step < 300; step++)
        {
            var path = alpha.SamplePath();
            foreach (var c in path) drawn[c]++;
            using var gradients = tensor(path.Select((c, l) => (float)(c == 0 ? -1 : 1) * (l + 1)).ToArray());
            alpha.Step(gradients, path);
        }
        var after = alpha.SaveState();
        Assert.Equal(0, drawn[3]);
        Assert.All(new[] { 0, 1, 2 }, c => Assert.True(drawn[c] > 0, $"choice {c} never drawn"));
        for (int i = 3; i < 16; i += 4) Assert.Equal(before[i], after[i]);
        Assert.Contains(Enumerable.Range(0, 16), i => i % 4 != 3 && Math.Abs(after[i] - before[i]) > 0.1);
        Assert.All(alpha.Probabilities(), row => Assert.Equal(0, row[3]));
    }

    [Fact]
    public void Sampling_within_a_budget_and_the_budgeted_choice_skip_a_left_out_block()
    {
        // Per layer k3 = 1 ms, k5 = 1.2, k7 = 2, xc = 1.3: at 1.2x the budget admits k5 or xc in some layers.
        using var alpha = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(),
            new ArchitectureSearchOptions { Candidates = new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle5 }, MaxRelativeCost = 1.2, SampleWithinBudget = true, EarlyFixMargin = 2 }, CPU, seed: 2);
        alpha.UseMeasuredCosts(MeasuredCostBudgetTests.Costs());
        var paths = Enumerable.Range(0, 400).Select(_ => alpha.SamplePath()).ToArray();
        Assert.All(paths, p => Assert.All(p, c => Assert.InRange(c, 0, 1)));
        Assert.All(paths, p => Assert.True(alpha.WithinBudget(p)));
        Assert.Contains(paths, p => p.Contains(1));
        // Xception far more probable than anything else: still not chosen.
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => i % 4 == 3 ? 20f : i % 4 == 1 ? 1f : 0f).ToArray(), new int?[4]);
        var chosen = alpha.Freeze();
        Assert.DoesNotContain(3, chosen);
        Assert.True(alpha.WithinBudget(chosen));
        Assert.Contains(1, chosen);
    }

    [Theory]
    [InlineData(new BlockChoice[0])]
    [InlineData(new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle3 })]
    [InlineData(new[] { BlockChoice.Shuffle3, (BlockChoice)7 })]
    public void Invalid_candidate_lists_are_refused_by_name(BlockChoice[] candidates)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureSearchOptions { Candidates = candidates }.Validate());
        Assert.Equal(nameof(ArchitectureSearchOptions.Candidates), e.ParamName);
    }
}
