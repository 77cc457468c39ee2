namespace DiffAutoML.ML.Search;

/// <summary>
/// Draws a path from the product of the layers' distributions conditioned on the child keeping within one budget:
/// P(s | sum_l cost_l[s_l] &lt;= limit) exactly, by counting the probability mass of the feasible completions
/// (a knapsack-style table over the remaining budget) and then sampling layer by layer against it.
/// </summary>
public static class BudgetedPathSampler
{
    /// <summary>The most budget units the table may span; coarser units are used above it (see <see cref="Quantize"/>).</summary>
    public const long MaxUnits = 20_000;

    /// <summary>
    /// One path drawn from p conditioned on the budget, or null when no child fits. <paramref name="allowed"/>[l][c] =
    /// false excludes a choice (a fixed layer allows one). Costs must be non-negative integers in the budget's units.
    /// </summary>
    public static int[]? Sample(double[][] probabilities, ResourceBudget budget, bool[][] allowed, Random random)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(allowed);
        ArgumentNullException.ThrowIfNull(random);
        int layers = probabilities.Length;
        var mass = CompletionMass(probabilities, budget, allowed);
        if (mass is null) return null;

        var path = new int[layers];
        long left = budget.Limit;
        for (int l = 0; l < layers; l++)
        {
            var weights = Weights(probabilities[l], allowed[l]);
            var conditional = new double[weights.Length];
            for (int c = 0; c < weights.Length; c++)
            {
                long cost = budget.Costs[l][c];
                if (weights[c] > 0 && cost <= left) conditional[c] = weights[c] * mass[l + 1][left - cost];
            }
            path[l] = Draw(conditional, random);
            left -= budget.Costs[l][path[l]];
        }
        return path;
    }

    /// <summary>
    /// The marginals q_l(c) = P(s_l = c | within the budget) of the distribution <see cref="Sample"/> draws from,
    /// [layer][choice]; null when no child fits. They centre the DSNAS estimator under this distribution: the score of
    /// log q(s) with respect to alpha_l is onehot(s_l) - q_l (docs/algorithm.md, "Sampling within the budget").
    /// </summary>
    public static double[][]? Marginals(double[][] probabilities, ResourceBudget budget, bool[][] allowed)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(allowed);
        var mass = CompletionMass(probabilities, budget, allowed);
        if (mass is null) return null;
        int layers = probabilities.Length, width = (int)budget.Limit + 1;
        double total = mass[0][width - 1];
        // prefix[b]: the mass of the choices of layers 0..l-1 that cost exactly b.
        var prefix = new double[width];
        prefix[0] = 1;
        var marginals = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            var weights = Weights(probabilities[l], allowed[l]);
            var q = new double[weights.Length];
            var next = new double[width];
            for (int c = 0; c < weights.Length; c++)
            {
                long cost = budget.Costs[l][c];
                if (weights[c] == 0 || cost >= width) continue;
                for (long b = 0; b + cost < width; b++)
                {
                    if (prefix[b] == 0) continue;
                    q[c] += prefix[b] * weights[c] * mass[l + 1][width - 1 - b - cost];
                    next[b + cost] += prefix[b] * weights[c];
                }
            }
            marginals[l] = q.Select(v => v / total).ToArray();
            prefix = next;
        }
        return marginals;
    }

    /// <summary>mass[l][b]: the probability mass of the choices of layers l.. that cost at most b in all (layer l's
    /// weights are p with the excluded choices set to 0; a fixed layer's one choice counts with weight 1); null when no
    /// child fits.</summary>
    private static double[][]? CompletionMass(double[][] probabilities, ResourceBudget budget, bool[][] allowed)
    {
        int layers = probabilities.Length;
        if (budget.Limit < 0) return null;
        if (budget.Limit > MaxUnits) throw new ArgumentOutOfRangeException(nameof(budget), budget.Limit, $"The budget spans more than {MaxUnits} units; quantize it first.");
        int width = (int)budget.Limit + 1;
        var mass = new double[layers + 1][];
        mass[layers] = Enumerable.Repeat(1.0, width).ToArray();
        for (int l = layers - 1; l >= 0; l--)
        {
            var row = new double[width];
            var weights = Weights(probabilities[l], allowed[l]);
            for (int c = 0; c < weights.Length; c++)
            {
                long cost = budget.Costs[l][c];
                if (cost < 0) throw new ArgumentOutOfRangeException(nameof(budget), cost, $"Block costs must be >= 0 (layer {l}, choice {c}).");
                if (weights[c] == 0 || cost >= width) continue;
                for (long b = cost; b < width; b++) row[b] += weights[c] * mass[l + 1][b - cost];
            }
            mass[l] = row;
        }
        return mass[0][width - 1] > 0 ? mass : null;
    }

    /// <summary>
    /// The budget in units of at most <see cref="MaxUnits"/> across: costs and limit divided by the smallest unit that
    /// fits (1 when they already do), costs rounded up and the limit down, so every path the quantized budget admits
    /// is within the exact one (children within a unit of the exact limit may be left out).
    /// </summary>
    public static ResourceBudget Quantize(ResourceBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        if (budget.Limit <= MaxUnits) return budget;
        long unit = (budget.Limit + MaxUnits - 1) / MaxUnits;
        return new ResourceBudget(
            budget.Costs.Select(row => row.Select(c => (c + unit - 1) / unit).ToArray()).ToArray(),
            budget.Limit / unit);
    }

    private static double[] Weights(double[] p, bool[] allowed)
    {
        var w = new double[p.Length];
        int allowedCount = allowed.Count(a => a);
        for (int c = 0; c < p.Length; c++) w[c] = !allowed[c] ? 0 : allowedCount == 1 ? 1 : p[c];
        return w;
    }

    private static int Draw(double[] weights, Random random)
    {
        double total = weights.Sum();
        double u = random.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int c = 0; c < weights.Length; c++)
        {
            if (weights[c] <= 0) continue;
            last = c;
            cumulative += weights[c];
            if (u < cumulative) return c;
        }
        return last; // rounding at the top end
    }
}
