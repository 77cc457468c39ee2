namespace DiffAutoML.ML.Search;

/// <summary>Chooses the most probable child whose costs fit the budgets (exactly, by a Pareto-front search).</summary>
public static class ChildSelector
{
    private readonly record struct Partial(long[] Totals, double LogProbability, int[] Path);

    /// <summary>
    /// The path maximizing sum_l log p[l][c_l] with total multiply-adds &lt;= <paramref name="maxFlops"/> and parameters
    /// &lt;= <paramref name="maxParameters"/> (block costs only; pass budgets minus the fixed parts). Null when no child fits.
    /// <paramref name="allowed"/>[l][c] = false excludes a choice (for example a layer already fixed).
    /// </summary>
    public static int[]? MostProbableWithin(double[][] probabilities, long[][] flops, long[][] parameters, long maxFlops, long maxParameters, bool[][]? allowed = null)
        => MostProbableWithin(probabilities, new[] { new ResourceBudget(flops, maxFlops), new ResourceBudget(parameters, maxParameters) }, allowed);

    /// <summary>
    /// The path maximizing sum_l log p[l][c_l] whose summed block costs keep within every budget. Null when no child fits.
    /// <paramref name="allowed"/>[l][c] = false excludes a choice.
    /// </summary>
    public static int[]? MostProbableWithin(double[][] probabilities, IReadOnlyList<ResourceBudget> budgets, bool[][]? allowed = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(budgets);
        var front = new List<Partial> { new(new long[budgets.Count], 0, Array.Empty<int>()) };
        for (int l = 0; l < probabilities.Length; l++)
        {
            var next = new List<Partial>();
            foreach (var p in front)
                for (int c = 0; c < probabilities[l].Length; c++)
                {
                    if (allowed is not null && !allowed[l][c]) continue;
                    var totals = new long[budgets.Count];
                    bool fits = true;
                    for (int r = 0; r < totals.Length && fits; r++)
                    {
                        totals[r] = p.Totals[r] + budgets[r].Costs[l][c];
                        fits = totals[r] <= budgets[r].Limit;
                    }
                    if (!fits) continue;
                    next.Add(new Partial(totals, p.LogProbability + Math.Log(Math.Max(probabilities[l][c], 1e-300)), [.. p.Path, c]));
                }
            front = Prune(next);
            if (front.Count == 0) return null;
        }
        return front.MaxBy(p => p.LogProbability).Path;
    }

    /// <summary>Drops partial paths that another beats on every cost and on probability at once.</summary>
    private static List<Partial> Prune(List<Partial> candidates)
    {
        // Best probability first: a candidate survives when no better-or-equal one is also as cheap in every cost.
        candidates.Sort((a, b) => b.LogProbability.CompareTo(a.LogProbability));
        var kept = new List<Partial>();
        int resources = candidates.Count == 0 ? 0 : candidates[0].Totals.Length;
        var varying = Enumerable.Range(0, resources).Where(r => candidates.Any(c => c.Totals[r] != candidates[0].Totals[r])).ToArray();
        if (varying.Length <= 1)
        {
            // One cost that differs (or none): a sweep keeping strictly cheaper candidates is exact.
            long cheapest = long.MaxValue;
            foreach (var c in candidates)
            {
                long cost = varying.Length == 0 ? 0 : c.Totals[varying[0]];
                if (cost < cheapest) { kept.Add(c); cheapest = cost; }
            }
            return kept;
        }
        foreach (var c in candidates)
            if (!kept.Any(k => varying.All(r => k.Totals[r] <= c.Totals[r]))) kept.Add(c);
        return kept;
    }
}
