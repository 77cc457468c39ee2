using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

/// <summary>The measured-cost budget (<see cref="ArchitectureSearchOptions.MaxRelativeCost"/>): the table, the exact
/// budgeted choice, the penalty and the option's checks.</summary>
public class MeasuredCostBudgetTests
{
    public MeasuredCostBudgetTests() => TorchRuntime.EnsureCpu();

    // Four layers (shared with BudgetedPathSamplerTests); per layer k3 = 1 ms, k5 = 1.2, k7 = 2, xc = 1.3 (the cheapest child costs 4 ms).
    private static readonly double[] LayerCosts = { 1, 1.2, 2, 1.3 };

    internal static SearchSpace FourLayers() => new(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 2 }, StageChannels = new[] { 32, 64 }, InputChannels = 1, Height = 16 });

    internal static BlockCostTable Costs() => new(Enumerable.Range(0, 4).Select(_ => (double[])LayerCosts.Clone()).ToArray());

    private static IEnumerable<int[]> AllPaths() => Enumerable.Range(0, 256).Select(code => Enumerable.Range(0, 4).Select(l => code >> (2 * l) & 3).ToArray());

    [Fact]
    public void Blocks_the_search_cannot_choose_are_not_timed_and_get_their_layers_largest_cost()
    {
        using var supernet = new Supernet(FourLayers());
        var only = new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle5 };
        var costs = BlockCostTable.Measure(supernet, batchSize: 4, repeats: 1, only: only).Milliseconds;
        foreach (var row in costs)
        {
            Assert.All(row, v => Assert.True(v > 0));
            double largest = Math.Max(row[(int)BlockChoice.Shuffle3], row[(int)BlockChoice.Shuffle5]);
            Assert.Equal(largest, row[(int)BlockChoice.Shuffle7]);
            Assert.Equal(largest, row[(int)BlockChoice.Xception]);
        }
        // Timed, a 7x7 block and an Xception block each cost something of their own in some layer (the stand-in above
        // is the same number twice in every layer).
        var all = BlockCostTable.Measure(supernet, batchSize: 4, repeats: 1).Milliseconds;
        Assert.Contains(all, row => row[(int)BlockChoice.Shuffle7] != row[(int)BlockChoice.Xception]);
        Assert.All(supernet.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
        Assert.Throws<ArgumentException>(() => BlockCostTable.Measure(supernet, batchSize: 4, only: Array.Empty<BlockChoice>()));
    }

    [Fact]
    public void The_table_sums_the_chosen_blocks_relative_to_the_cheapest_child()
    {
        var costs = Costs();
        Assert.Equal(4, costs.CheapestMilliseconds(), 12);
        Assert.Equal((1 + 2 + 1.3 + 1.2) / 4, costs.RelativeCost(new[] { 0, 2, 3, 1 }), 12);
        Assert.Equal(2, costs.RelativeCost(new[] { 2, 2, 2, 2 }), 12);
        Assert.Throws<ArgumentException>(() => new BlockCostTable(new[] { new double[] { 1, 2, 3 } }));
        Assert.Throws<ArgumentException>(() => new BlockCostTable(new[] { new double[] { 1, 2, 0, 3 } }));
        Assert.Throws<ArgumentException>(() => new BlockCostTable(new[] { new double[] { 1, 2, double.NaN, 3 } }));
    }

    [Fact]
    public void Freeze_chooses_the_most_probable_child_within_the_measured_cost_budget()
    {
        var space = FourLayers();
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { MaxRelativeCost = 1.2 }, CPU, seed: 1);
        alpha.UseMeasuredCosts(Costs());
        var random = new Random(3);
        // k7 (choice 2) most probable everywhere: the argmax child costs 2x the cheapest.
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => (float)(i % 4 == 2 ? 2 + random.NextDouble() : random.NextDouble())).ToArray(), new int?[4]);
        Assert.False(alpha.WithinBudget(new[] { 2, 2, 2, 2 }));

        var chosen = alpha.Freeze();

        var p = alpha.Probabilities();
        var best = AllPaths().Where(path => Costs().RelativeCost(path) <= 1.2 + 1e-9).MaxBy(path => path.Select((c, l) => Math.Log(p[l][c])).Sum());
        Assert.Equal(best, chosen);
        Assert.True(Costs().RelativeCost(chosen) <= 1.2 + 1e-9);
    }

    [Fact]
    public void A_budget_of_one_admits_only_the_cheapest_child()
    {
        using var alpha = new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1 }, CPU, seed: 1);
        alpha.UseMeasuredCosts(Costs());
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => i % 4 == 3 ? 5f : 0f).ToArray(), new int?[4]);
        Assert.Equal(new[] { 0, 0, 0, 0 }, alpha.Freeze());
    }

    [Fact]
    public void The_budget_is_relative_to_the_cheapest_child_of_the_candidate_blocks()
    {
        // Xception measured cheapest in the first layer (as on the CPU: it goes to 14x14 at once), and left out.
        var rows = Enumerable.Range(0, 4).Select(_ => (double[])LayerCosts.Clone()).ToArray();
        rows[0] = new[] { 2, 2.4, 3, 1 };
        var costs = new BlockCostTable(rows);
        var candidates = new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle5, BlockChoice.Shuffle7 };
        var allK3 = new[] { 0, 0, 0, 0 };
        Assert.Equal(5.0 / 4, costs.RelativeCost(allK3), 12);          // against the whole space's cheapest child
        Assert.Equal(1, costs.RelativeCost(allK3, candidates), 12);    // against the candidates'
        Assert.Equal(5, costs.CheapestMilliseconds(candidates), 12);

        // Budget 1.1: relative to the whole space no candidate child would fit (all-k3 is 1.25x), and the search failed.
        using var alpha = new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.1, Candidates = candidates }, CPU, seed: 1);
        alpha.UseMeasuredCosts(costs);
        Assert.Equal(1, alpha.RelativeCost(allK3)!.Value, 12);
        Assert.True(alpha.WithinBudget(new[] { 0, 0, 0, 1 }));                 // one 5x5 in a 1 ms layer: 5.2 / 5 = 1.04
        Assert.False(alpha.WithinBudget(new[] { 0, 0, 0, 2 }));                // one 7x7 there: 6 / 5 = 1.2
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => i % 4 == 2 ? 3f : 0f).ToArray(), new int?[4]);
        var chosen = alpha.Freeze();
        Assert.True(alpha.RelativeCost(chosen) <= 1.1 + 1e-9);
        Assert.DoesNotContain(3, chosen);
    }

    [Fact]
    public void Over_the_budget_the_penalty_moves_probability_away_from_the_costly_blocks()
    {
        using var alpha = new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.2, EarlyFixMargin = 2, Optimizer = ArchitectureOptimizer.Sgd, Momentum = 0, LearningRate = 0.1 }, CPU, seed: 1);
        alpha.UseMeasuredCosts(Costs());
        var allK7 = new[] { 2, 2, 2, 2 };
        double before = alpha.Probabilities().Average(p => p[2]);
        // No signal from the loss: only the penalty moves alpha.
        double penalty = alpha.Step(zeros(4), allK7);
        Assert.True(penalty > 0);
        Assert.True(alpha.Probabilities().Average(p => p[2]) < before);
        // Within the budget there is no penalty and, with no loss signal (and plain SGD), alpha stays where it is.
        var probabilities = alpha.Probabilities();
        Assert.Equal(0, alpha.Step(zeros(4), new[] { 0, 0, 0, 1 }));
        var after = alpha.Probabilities();
        for (int l = 0; l < 4; l++) Assert.Equal(probabilities[l][2], after[l][2], 1e-6);
    }

    [Fact]
    public void Early_fixing_never_fixes_a_block_that_leaves_no_child_within_the_budget()
    {
        using var alpha = new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.2, EarlyFixMargin = 0.3, Optimizer = ArchitectureOptimizer.Sgd, Momentum = 0, LearningRate = 0 }, CPU, seed: 1);
        alpha.UseMeasuredCosts(Costs());
        // k7 decided in every layer (p = 0.87), but one k7 alone costs 1.25x the cheapest child.
        alpha.LoadState(Enumerable.Range(0, 16).Select(i => i % 4 == 2 ? 3f : 0f).ToArray(), new int?[4]);

        alpha.Step(zeros(4), new[] { 0, 0, 0, 0 });

        Assert.All(alpha.FixedChoices, f => Assert.Null(f));
        Assert.True(Costs().RelativeCost(alpha.Freeze()) <= 1.2 + 1e-9);
    }

    [Fact]
    public void The_option_is_checked_and_needs_the_measured_costs()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 0.9 }, CPU, 1));
        Assert.Contains("MaxRelativeCost", e.Message);
        using var alpha = new ArchitectureParameters(FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.5 }, CPU, 1);
        Assert.Contains("UseMeasuredCosts", Assert.Throws<InvalidOperationException>(() => alpha.Freeze()).Message);
        Assert.Throws<ArgumentException>(() => alpha.UseMeasuredCosts(new BlockCostTable(new[] { (double[])LayerCosts.Clone() })));
    }

    [Fact]
    public void Measuring_the_supernet_gives_a_positive_cost_for_every_block_and_leaves_no_gradients()
    {
        var space = FourLayers();
        using var supernet = new Supernet(space);

        var costs = BlockCostTable.Measure(supernet, batchSize: 16, repeats: 1);

        Assert.Equal(space.Layers.Count, costs.Layers);
        Assert.All(costs.Milliseconds, row => Assert.All(row, v => Assert.True(v > 0 && double.IsFinite(v))));
        Assert.All(supernet.parameters(), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
    }

    [Fact]
    public void Under_a_time_limit_the_blocks_are_timed_at_the_batch_that_fits()
    {
        // Timed passes of 0.5 s in all at batch 8 project the full measurement at batch 128 (a warm-up and three timed
        // passes per block) to 0.5 s x 16 x 4 = 32 s.
        Assert.Equal(128, BlockCostTable.BatchWithin(128, 8, trialPassSeconds: 0.5, leftSeconds: 32));
        Assert.Equal(64, BlockCostTable.BatchWithin(128, 8, trialPassSeconds: 0.5, leftSeconds: 16)); // half the batch
        Assert.Equal(16, BlockCostTable.BatchWithin(128, 8, trialPassSeconds: 0.5, leftSeconds: 4)); // an eighth
        Assert.Equal(8, BlockCostTable.BatchWithin(128, 8, trialPassSeconds: 0.5, leftSeconds: 3.9)); // under twice the trial's: keep it
        Assert.Equal(8, BlockCostTable.BatchWithin(128, 8, trialPassSeconds: 0.5, leftSeconds: -1));
        Assert.Equal(4, BlockCostTable.BatchWithin(4, 4, trialPassSeconds: 0.5, leftSeconds: 0)); // the trial was the training batch

        using var supernet = new Supernet(FourLayers());
        var (kept, keptBatch) = BlockCostTable.MeasureWithin(supernet, 512, TimeSpan.Zero);
        Assert.Equal(BlockCostTable.TrialBatchSize, keptBatch);
        Assert.All(kept.Milliseconds, row => Assert.All(row, v => Assert.True(v > 0)));
        var (full, fullBatch) = BlockCostTable.MeasureWithin(supernet, 16, TimeSpan.FromHours(1));
        Assert.Equal(16, fullBatch);
        Assert.Equal(4, full.Layers);
        Assert.All(supernet.parameters(), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => BlockCostTable.MeasureWithin(supernet, 16, TimeSpan.FromHours(1), cancellation: cancelled.Token));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_selector_matches_exact_enumeration(int budgetCount)
    {
        var random = new Random(11 + budgetCount);
        for (int trial = 0; trial < 30; trial++)
        {
            int layers = 5;
            var p = Enumerable.Range(0, layers).Select(_ => { var v = Enumerable.Range(0, 4).Select(_ => random.NextDouble() + 0.05).ToArray(); var s = v.Sum(); return v.Select(x => x / s).ToArray(); }).ToArray();
            var budgets = Enumerable.Range(0, budgetCount).Select(_ => new ResourceBudget(
                Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, 4).Select(_ => (long)random.Next(10, 100)).ToArray()).ToArray(), random.Next(150, 400))).ToArray();
            var best = Enumerable.Range(0, 1 << (2 * layers)).Select(code => Enumerable.Range(0, layers).Select(l => code >> (2 * l) & 3).ToArray())
                .Where(path => budgets.All(b => path.Select((c, l) => b.Costs[l][c]).Sum() <= b.Limit))
                .Select(path => (path, score: path.Select((c, l) => Math.Log(p[l][c])).Sum()))
                .OrderByDescending(t => t.score).FirstOrDefault();
            var chosen = ChildSelector.MostProbableWithin(p, budgets);
            if (budgetCount == 2) // the multiply-adds-and-parameters overload is the same search
                Assert.Equal(chosen, ChildSelector.MostProbableWithin(p, budgets[0].Costs, budgets[1].Costs, budgets[0].Limit, budgets[1].Limit));
            if (best.path is null) { Assert.Null(chosen); continue; }
            Assert.NotNull(chosen);
            Assert.Equal(best.score, chosen!.Select((c, l) => Math.Log(p[l][c])).Sum(), 1e-9);
        }
    }
}
