namespace DiffAutoML.ML.Search;

/// <summary>Chooses the most probable child whose cost fits the budgets (exactly, by a Pareto-front search).</summary>
public static class ChildSelector
{
    private readonly record struct Partial(long Flops, long Parameters, double LogProbability, int[] Path);

    /// <summary>
    /// The path maximizing sum_l log p[l][c_l] with total multiply-adds &lt;= <paramref name="maxFlops"/> and parameters
    /// &lt;= <paramref name="maxParameters"/> (block costs only; pass budgets minus the fixed parts). Null when no child fits.
    /// <paramref name="allowed"/>[l][c] = false excludes a choice (for example a layer already fixed).
    /// </summary>
    public static int[]? MostProbableWithin(double[][] probabilities, long[][] flops, long[][] parameters, long maxFlops, long maxParameters, bool[][]? allowed = null)
    {
        var front = new List<Partial> { new(0, 0, 0, Array.Empty<int>()) };
        for (int l = 0; l < probabilities.Length; l++)
        {
            var next = new List<Partial>();
            foreach (var p in front)
                for (int c = 0; c < probabilities[l].Length; c++)
                {
                    if (allowed is not null && !allowed[l][c]) continue;
                    long f = p.Flops + flops[l][c], n = p.Parameters + parameters[l][c];
                    if (f > maxFlops || n > maxParameters) continue;
                    next.Add(new Partial(f, n, p.LogProbability + Math.Log(Math.Max(probabilities[l][c], 1e-300)), [.. p.Path, c]));
                }
            front = Prune(next);
            if (front.Count == 0) return null;
        }
        return front.MaxBy(p => p.LogProbability).Path;
    }

    /// <summary>Drops partial paths that another beats on flops, parameters and probability at once.</summary>
    private static List<Partial> Prune(List<Partial> candidates)
    {
        // Best probability first: a candidate survives when no better-or-equal one is also as cheap in both costs.
        candidates.Sort((a, b) => b.LogProbability.CompareTo(a.LogProbability));
        var kept = new List<Partial>();
        if (candidates.All(c => c.Parameters == candidates[0].Parameters))
        {
            // One cost only (or no parameter budget): a sweep keeping strictly cheaper candidates is exact.
            long cheapest = long.MaxValue;
            foreach (var c in candidates)
                if (c.Flops < cheapest) { kept.Add(c); cheapest = c.Flops; }
            return kept;
        }
        foreach (var c in candidates)
            if (!kept.Any(k => k.Flops <= c.Flops && k.Parameters <= c.Parameters)) kept.Add(c);
        return kept;
    }
}
