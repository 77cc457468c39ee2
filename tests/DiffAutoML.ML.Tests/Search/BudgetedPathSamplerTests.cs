using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

/// <summary>Sampling within the budget (<see cref="ArchitectureSearchOptions.SampleWithinBudget"/>): the sampler's
/// distribution against exact enumeration, fixed layers, quantized budgets, and the option in the search.</summary>
public class BudgetedPathSamplerTests
{
    public BudgetedPathSamplerTests() => TorchRuntime.EnsureCpu();

    private static IEnumerable<int[]> AllPaths(int layers) => Enumerable.Range(0, 1 << (2 * layers)).Select(code => Enumerable.Range(0, layers).Select(l => code >> (2 * l) & 3).ToArray());

    private static double[][] RandomProbabilities(Random random, int layers) => Enumerable.Range(0, layers).Select(_ =>
    {
        var v = Enumerable.Range(0, 4).Select(_ => random.NextDouble() + 0.05).ToArray();
        return v.Select(x => x / v.Sum()).ToArray();
    }).ToArray();

    private static bool[][] AllAllowed(int layers) => Enumerable.Range(0, layers).Select(_ => new[] { true, true, true, true }).ToArray();

    [Fact]
    public void Samples_follow_the_distribution_conditioned_on_the_budget()
    {
        var random = new Random(5);
        const int layers = 4, draws = 40_000;
        var p = RandomProbabilities(random, layers);
        // Block 0 cheap, the others dear: the budget admits at most two dear blocks, so most children are over it.
        var budget = new ResourceBudget(Enumerable.Range(0, layers).Select(_ => new long[] { 10, 30, 50, 25 }).ToArray(), 40 + 40 + 20);
        var exact = AllPaths(layers).ToDictionary(Key, path => path.Select((c, l) => budget.Costs[l][c]).Sum() <= budget.Limit ? path.Select((c, l) => p[l][c]).Aggregate(1.0, (a, b) => a * b) : 0);
        double feasibleMass = exact.Values.Sum();
        Assert.InRange(feasibleMass, 0.05, 0.6);
        var marginals = BudgetedPathSampler.Marginals(p, budget, AllAllowed(layers))!;
        for (int l = 0; l < layers; l++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(exact.Where(e => e.Key.Split(',')[l] == c.ToString()).Sum(e => e.Value) / feasibleMass, marginals[l][c], 12);
        var counts = new Dictionary<string, int>();
        var sampling = new Random(9);
        for (int i = 0; i < draws; i++)
        {
            var path = BudgetedPathSampler.Sample(p, budget, AllAllowed(layers), sampling)!;
            Assert.True(path.Select((c, l) => budget.Costs[l][c]).Sum() <= budget.Limit, Key(path));
            counts[Key(path)] = counts.GetValueOrDefault(Key(path)) + 1;
        }
        double totalVariation = 0;
        foreach (var (key, mass) in exact)
        {
            double q = mass / feasibleMass, f = counts.GetValueOrDefault(key) / (double)draws;
            Assert.True(Math.Abs(f - q) <= 5 * Math.Sqrt(q * (1 - q) / draws) + 1e-9, $"{key}: {f:F4} drawn, {q:F4} expected");
            totalVariation += Math.Abs(f - q) / 2;
        }
        Assert.True(totalVariation < 0.02, $"total variation {totalVariation:F4}");
    }

    [Fact]
    public void Fixed_layers_keep_their_block_and_an_unreachable_budget_gives_null()
    {
        var p = RandomProbabilities(new Random(2), 3);
        var costs = Enumerable.Range(0, 3).Select(_ => new long[] { 1, 2, 3, 4 }).ToArray();
        var allowed = AllAllowed(3);
        allowed[1] = new[] { false, false, true, false }; // layer 1 fixed at k7 (cost 3)
        var random = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            var path = BudgetedPathSampler.Sample(p, new ResourceBudget(costs, 6), allowed, random)!;
            Assert.Equal(2, path[1]);
            Assert.True(path.Select((c, l) => costs[l][c]).Sum() <= 6);
        }
        Assert.Equal(new[] { 0, 2, 0 }, BudgetedPathSampler.Sample(p, new ResourceBudget(costs, 5), allowed, random));
        Assert.Null(BudgetedPathSampler.Sample(p, new ResourceBudget(costs, 4), allowed, random));
    }

    [Fact]
    public void A_quantized_budget_admits_only_children_within_the_exact_one()
    {
        var random = new Random(3);
        var budget = new ResourceBudget(Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 4).Select(_ => (long)random.Next(100_000, 900_000)).ToArray()).ToArray(), 2_500_000);
        var quantized = BudgetedPathSampler.Quantize(budget);
        Assert.InRange(quantized.Limit, BudgetedPathSampler.MaxUnits / 2, BudgetedPathSampler.MaxUnits);
        int admitted = 0;
        foreach (var path in AllPaths(5))
        {
            if (path.Select((c, l) => quantized.Costs[l][c]).Sum() > quantized.Limit) continue;
            admitted++;
            Assert.True(path.Select((c, l) => budget.Costs[l][c]).Sum() <= budget.Limit);
        }
        Assert.True(admitted > 10);
        var small = budget with { Limit = 1000 };
        Assert.Same(small, BudgetedPathSampler.Quantize(small)); // already within MaxUnits: unchanged
    }

    [Fact]
    public void With_the_option_the_search_samples_only_children_within_the_measured_cost_budget()
    {
        var costs = MeasuredCostBudgetTests.Costs(); // per layer k3 1, k5 1.2, k7 2, xc 1.3
        using var plain = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.2 }, CPU, seed: 1);
        using var within = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions { MaxRelativeCost = 1.2, SampleWithinBudget = true }, CPU, seed: 1);
        plain.UseMeasuredCosts(costs);
        within.UseMeasuredCosts(costs);
        var drawn = new HashSet<string>();
        int plainOver = 0;
        for (int i = 0; i < 500; i++)
        {
            if (!plain.WithinBudget(plain.SamplePath())) plainOver++;
            var path = within.SamplePath();
            Assert.True(costs.RelativeCost(path) <= 1.2 + 1e-9, Key(path));
            drawn.Add(Key(path));
        }
        Assert.True(plainOver > 300, $"{plainOver} of 500 over the budget without the option");
        // Uniform alpha: every child within 1.2x is drawn at some point (no k7; at most one Xception block).
        var feasible = AllPaths(4).Where(path => costs.RelativeCost(path) <= 1.2 + 1e-9).Select(Key).ToHashSet();
        Assert.True(feasible.SetEquals(drawn), $"drawn {drawn.Count} of {feasible.Count}");
    }

    [Fact]
    public void With_the_option_the_search_samples_within_a_multiply_add_budget()
    {
        var space = MeasuredCostBudgetTests.FourLayers();
        var cheapest = space.ChildMultiplyAdds(new[] { 0, 0, 0, 0 });
        double limit = (cheapest + (space.ChildMultiplyAdds(new[] { 2, 2, 2, 2 }) - cheapest) * 0.3) / 1e6;
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { MaxMFlops = limit, SampleWithinBudget = true }, CPU, seed: 4);
        var drawn = new HashSet<string>();
        for (int i = 0; i < 300; i++)
        {
            var path = alpha.SamplePath();
            Assert.True(space.ChildMultiplyAdds(path) <= limit * 1e6, Key(path));
            drawn.Add(Key(path));
        }
        Assert.True(drawn.Count > 5, $"{drawn.Count} children drawn");
    }

    [Fact]
    public void With_the_option_the_estimator_is_centred_on_the_conditioned_marginals()
    {
        var costs = MeasuredCostBudgetTests.Costs(); // per layer k3 1, k5 1.2, k7 2, xc 1.3
        using var alpha = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions
        {
            MaxRelativeCost = 1.2, SampleWithinBudget = true, Optimizer = ArchitectureOptimizer.Sgd, Momentum = 0, LearningRate = 1, EarlyFixMargin = 2,
        }, CPU, seed: 1);
        alpha.UseMeasuredCosts(costs);
        var path = new[] { 0, 1, 3, 0 };
        var q = BudgetedPathSampler.Marginals(alpha.Probabilities(), new ResourceBudget(Enumerable.Range(0, 4).Select(_ => new long[] { 250, 300, 500, 325 }).ToArray(), 1200), AllAllowed(4))!;
        Assert.True(q[0][2] < 0.05, "k7 is (almost) never within 1.2x"); // so centring on softmax (0.25) would differ

        Assert.Equal(0, alpha.Step(ones(4), path));

        // One SGD step of rate 1 from alpha = 0 with dL/dZ = 1: alpha_l = -(onehot(s_l) - q_l).
        var after = alpha.SaveState();
        for (int l = 0; l < 4; l++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(-((path[l] == c ? 1 : 0) - q[l][c]), after[l * 4 + c], 1e-5);
    }

    [Fact]
    public void Without_a_budget_the_option_changes_nothing()
    {
        using var plain = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions(), CPU, seed: 7);
        using var within = new ArchitectureParameters(MeasuredCostBudgetTests.FourLayers(), new ArchitectureSearchOptions { SampleWithinBudget = true }, CPU, seed: 7);
        for (int i = 0; i < 50; i++) Assert.Equal(plain.SamplePath(), within.SamplePath());
    }

    private static string Key(int[] path) => string.Join(",", path);
}
