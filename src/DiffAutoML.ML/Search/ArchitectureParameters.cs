using DiffAutoML.ML.Native;
using DiffAutoML.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// alpha [L, 4]: the architecture distribution, its single-path sampling, the DSNAS gradient estimator (paper eq. 5),
/// early fixing of decided layers, the resource penalty, and the final choice of a child within budget.
/// </summary>
public sealed class ArchitectureParameters : IDisposable
{
    private readonly LogitOptimizer _optimizer;
    private Random _random;
    private readonly long[][] _flops;
    private readonly long[][] _parameters;
    private readonly int?[] _fixed;
    private BlockCostTable? _costs;
    private long[][]? _costThousandths;
    private long _costLimit; // MaxRelativeCost in the units of _costThousandths, set with them
    private readonly bool[] _candidates; // by choice: whether the search may choose it (Options.Candidates)
    private readonly Tensor? _excluded; // [L, 4] true where a choice is not a candidate; null when all are

    /// <summary>Creates alpha on <paramref name="device"/> (uniform unless InitialStd &gt; 0).</summary>
    public ArchitectureParameters(SearchSpace space, ArchitectureSearchOptions options, Device device, int seed)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(options);
        Options = options with { };
        Options.Validate();
        Space = space;
        int layers = space.Layers.Count;
        _random = new Random(seed);
        var initial = new float[layers * BlockChoices.Count];
        for (int i = 0; i < initial.Length; i++) initial[i] = (float)(Options.InitialStd * Gaussian(_random));
        Alpha = new Parameter(tensor(initial, new long[] { layers, BlockChoices.Count }).to(device), requires_grad: true);
        _optimizer = Options.Optimizer == ArchitectureOptimizer.Adam
            ? LogitOptimizer.Adam(Alpha, Options.LearningRate, Options.Beta1, Options.Beta2)
            : LogitOptimizer.Sgd(Alpha, Options.LearningRate, Options.Momentum);
        _flops = space.Layers.Select(l => Enum.GetValues<BlockChoice>().Select(c => space.BlockMultiplyAdds(l.Index, c)).ToArray()).ToArray();
        _parameters = space.Layers.Select(l => Enum.GetValues<BlockChoice>().Select(c => space.BlockParameters(l.Index, c)).ToArray()).ToArray();
        _fixed = new int?[layers];
        _candidates = Enum.GetValues<BlockChoice>().Select(Options.IsCandidate).ToArray();
        if (!_candidates.All(c => c))
            _excluded = tensor(Enumerable.Range(0, layers).SelectMany(_ => _candidates.Select(c => !c)).ToArray(), new long[] { layers, BlockChoices.Count }).to(device);
        CheckBudgetsReachable();
    }

    /// <summary>The settings (a copy).</summary>
    public ArchitectureSearchOptions Options { get; }

    /// <summary>The search space.</summary>
    public SearchSpace Space { get; }

    /// <summary>alpha: logits [L, 4]. Change it through <see cref="Step"/> or <see cref="LoadState"/> (they refresh the cached probabilities).</summary>
    public Parameter Alpha { get; }

    /// <summary>The measured block costs that <see cref="ArchitectureSearchOptions.MaxRelativeCost"/> applies to; null until
    /// <see cref="UseMeasuredCosts"/>.</summary>
    public BlockCostTable? MeasuredCosts => _costs;

    /// <summary>A child's measured training cost relative to the cheapest child of the candidate blocks, the reference of
    /// <see cref="ArchitectureSearchOptions.MaxRelativeCost"/>; null until <see cref="UseMeasuredCosts"/>.</summary>
    public double? RelativeCost(IReadOnlyList<int> path) => _costs?.RelativeCost(path, Options.Candidates);

    /// <summary>Sets the block costs that <see cref="ArchitectureSearchOptions.MaxRelativeCost"/> limits (measured with
    /// <see cref="BlockCostTable.Measure"/>, or saved from an earlier run of the same search).</summary>
    public void UseMeasuredCosts(BlockCostTable costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        if (costs.Layers != _fixed.Length) throw new ArgumentException($"The cost table has {costs.Layers} layers; the search space has {_fixed.Length}.", nameof(costs));
        _costs = costs;
        _costThousandths = costs.Thousandths();
        // Relative to the rounded total of the cheapest child of the candidate blocks, so that a budget of 1 admits that
        // child exactly and every budget admits some child (relative to the whole space's, a left-out block measured
        // cheapest, by noise or on another machine, could leave no candidate child within the budget).
        _costLimit = Options.MaxRelativeCost is double max ? (long)Math.Floor(max * _costThousandths.Sum(Cheapest) + 1e-9) : long.MaxValue;
        CheckBudgetsReachable();
    }

    private bool CostBudgetApplies
    {
        get
        {
            if (Options.MaxRelativeCost is null) return false;
            if (_costThousandths is null) throw new InvalidOperationException("MaxRelativeCost needs the measured block costs: call UseMeasuredCosts first.");
            return true;
        }
    }

    // The cheapest candidate's entry of a per-choice row.
    private long Cheapest(long[] row) => row.Where((_, c) => _candidates[c]).Min();

    /// <summary>softmax(alpha) per layer over the candidate blocks (<see cref="ArchitectureSearchOptions.Candidates"/>;
    /// the others get probability 0 and no gradient), on alpha's device, in the caller's dispose scope.</summary>
    private Tensor Softmax() => (_excluded is null ? Alpha : Alpha.masked_fill(_excluded, Scalars.Of(double.NegativeInfinity))).softmax(1);

    private long ChildCost(IReadOnlyList<int> path) => path.Select((c, l) => _costThousandths![l][c]).Sum();

    /// <summary>Layers fixed so far (early fixing, or <see cref="Freeze"/>): their block, or null while searched.</summary>
    public IReadOnlyList<int?> FixedChoices => _fixed;

    /// <summary>True once every layer is fixed.</summary>
    public bool IsFrozen => _fixed.All(f => f is not null);

    /// <summary>softmax(alpha) per layer, on the host (a copy). Read from the device once per change of alpha: the
    /// step's early-fixing check and the next step's path sampling share one read.</summary>
    public double[][] Probabilities()
    {
        if (_probabilities is null)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var p = Softmax().to(ScalarType.Float64).cpu().data<double>().ToArray();
            _probabilities = Enumerable.Range(0, _fixed.Length).Select(l => p.AsSpan(l * BlockChoices.Count, BlockChoices.Count).ToArray()).ToArray();
        }
        return _probabilities.Select(row => (double[])row.Clone()).ToArray();
    }

    private double[][]? _probabilities;

    /// <summary>Mean entropy of the layers' distributions, in nats (ln 4 = 1.386 when uniform over four candidates).</summary>
    public double MeanEntropy() => Probabilities().Average(p => -p.Where(v => v > 0).Sum(v => v * Math.Log(v)));

    /// <summary>dL/dZ_l[s_l] read from Z's gradient at <paramref name="path"/>, float [L].</summary>
    public static Tensor GateGradientsFrom(Tensor gates, IReadOnlyList<int> path)
    {
        using var grad = gates.grad ?? throw new InvalidOperationException("Z has no gradient: run backward on the training loss first.");
        return grad.gather(1, tensor(path.Select(c => (long)c).ToArray(), device: grad.device).view(-1, 1)).view(-1);
    }

    /// <summary>The most probable block of each layer (fixed layers keep their block).</summary>
    public int[] ArgmaxPath() => Probabilities().Select((p, l) => _fixed[l] ?? Array.IndexOf(p, p.Max())).ToArray();

    /// <summary>Draws one block per layer from softmax(alpha) (fixed layers keep theirs). Host-side: the path decides
    /// which modules run, so alpha's 4L probabilities are read once per step.</summary>
    public int[] SamplePath()
    {
        var probabilities = Probabilities();
        var budgets = Options.SampleWithinBudget ? Budgets() : [];
        if (budgets.Count > 0) return SampleWithin(probabilities, budgets);
        var path = new int[_fixed.Length];
        for (int l = 0; l < path.Length; l++)
        {
            if (_fixed[l] is int f) { path[l] = f; continue; }
            double u = _random.NextDouble(), cumulative = 0;
            int chosen = -1;
            for (int c = 0; c < BlockChoices.Count; c++)
            {
                if (!_candidates[c]) continue;
                chosen = c; // the last candidate when rounding leaves u above the sum
                cumulative += probabilities[l][c];
                if (u < cumulative) break;
            }
            path[l] = chosen;
        }
        return path;
    }

    /// <summary>
    /// <see cref="ArchitectureSearchOptions.SampleWithinBudget"/>: a path from softmax(alpha) conditioned on the first
    /// budget (the measured cost, else multiply-adds, else parameters; exact, <see cref="BudgetedPathSampler"/>), drawn
    /// again while it breaks another budget; after 32 draws, the most probable child within all of them.
    /// </summary>
    private int[] SampleWithin(double[][] probabilities, List<ResourceBudget> budgets)
    {
        var primary = BudgetedPathSampler.Quantize(budgets[0]);
        for (int attempt = 0; attempt < 32; attempt++)
        {
            var path = BudgetedPathSampler.Sample(probabilities, primary, Allowed(), _random);
            if (path is null) break;
            if (WithinBudget(path)) return path;
        }
        return MostProbableWithinBudget() ?? throw new InvalidOperationException(BudgetError());
    }

    /// <summary>With <see cref="ArchitectureSearchOptions.SampleWithinBudget"/> and a budget, the per-layer marginals of
    /// the distribution <see cref="SamplePath"/> draws from (conditioned on the first budget); otherwise null.</summary>
    private double[][]? ConditionedMarginals()
    {
        if (!Options.SampleWithinBudget) return null;
        var budgets = Budgets();
        return budgets.Count == 0 ? null : BudgetedPathSampler.Marginals(Probabilities(), BudgetedPathSampler.Quantize(budgets[0]), Allowed());
    }

    /// <summary>Z: the one-hot [L, 4] of <paramref name="path"/> as a leaf that requires grad, on alpha's device
    /// (for <see cref="Supernet.Gates"/>).</summary>
    public Tensor Gates(IReadOnlyList<int> path)
    {
        var z = zeros(_fixed.Length, BlockChoices.Count);
        for (int l = 0; l < path.Count; l++) z[l, path[l]] = 1;
        return z.to(Alpha.device).requires_grad_(true);
    }

    /// <summary>
    /// DSNAS estimator (paper eq. 5): given dL/dZ_l[s_l] from the one backward pass of the training loss
    /// (<paramref name="gateGradients"/>, float [L], from <see cref="Supernet.GateGradients"/> or the rows of Z.grad at
    /// the path), grad alpha_l = dL/dZ_l[s] (onehot(s) - softmax(alpha_l)) (with SampleWithinBudget, the conditioned
    /// distribution's marginals in place of softmax(alpha_l)). Adds the resource
    /// penalty's gradient when the sampled child is over a budget, then takes one optimizer step on the searched layers
    /// and fixes the layers that are decided. Returns the penalty (0 when within budget).
    /// </summary>
    public double Step(Tensor gateGradients, IReadOnlyList<int> path)
    {
        if (IsFrozen) return 0;
        if (gateGradients.shape is not [var length] || length != _fixed.Length)
            throw new ArgumentException($"Expected one gate gradient per layer ({_fixed.Length}).", nameof(gateGradients));
        // alpha's gradient buffer is created once, outside any dispose scope, and reset in place every step.
        _optimizer.ZeroGrad();
        using var scope = NewDisposeScope();
        double penalty = 0;
        var overFlops = Options.MaxMFlops is double mf && ChildFlops(path) > mf * 1e6;
        var overParams = Options.MaxParameters is long mp && ChildParameterCount(path) > mp;
        var overCost = CostBudgetApplies && ChildCost(path) > _costLimit;
        if ((overFlops || overParams || overCost) && Options.PenaltyCoefficient > 0)
        {
            // DSNAS: coef * sum_l p_l[s] * cost_l[s], costs relative to an equal per-layer share of the budget.
            var p = Softmax();
            var cost = zeros(_fixed.Length, BlockChoices.Count);
            for (int l = 0; l < _fixed.Length; l++)
            {
                double c = 0;
                if (overFlops) c += _flops[l][path[l]] / (Options.MaxMFlops!.Value * 1e6 / _fixed.Length);
                if (overParams) c += _parameters[l][path[l]] / ((double)Options.MaxParameters!.Value / _fixed.Length);
                if (overCost) c += _costThousandths![l][path[l]] / ((double)_costLimit / _fixed.Length);
                cost[l, path[l]] = c;
            }
            using var coefficient = Options.PenaltyCoefficient.ToScalar();
            var loss = (p * HostToDevice.Copy(cost, Alpha.device)).sum().mul_(coefficient);
            loss.backward();
            penalty = loss.item<float>();
        }
        using (no_grad())
        {
            var p = Softmax();
            var index = HostToDevice.Copy(tensor(path.Select(c => (long)c).ToArray()), Alpha.device).view(-1, 1);
            var oneHot = zeros_like(p).scatter_(1, index, ones_like(p));
            // Sampling within the budget draws from softmax(alpha) conditioned on it: its score is onehot - q, with q
            // that distribution's per-layer marginals.
            var centre = ConditionedMarginals() is double[][] q
                ? HostToDevice.Copy(tensor(q.SelectMany(row => row.Select(v => (float)v)).ToArray(), new long[] { _fixed.Length, BlockChoices.Count }), Alpha.device)
                : p;
            var estimator = gateGradients.to(Alpha.device).view(-1, 1) * (oneHot - centre);
            var searched = HostToDevice.Copy(tensor(_fixed.Select(f => f is null ? 1f : 0f).ToArray()), Alpha.device).view(-1, 1);
            Alpha.grad!.add_(estimator, Scalars.One).mul_(searched);
        }
        // Fixed layers keep their logits exactly: Adam's moment estimates would otherwise keep moving them.
        var before = Alpha.detach().clone();
        _optimizer.Step();
        _probabilities = null;
        using (no_grad())
        {
            var searchedRows = HostToDevice.Copy(tensor(_fixed.Select(f => f is null).ToArray()), Alpha.device).view(-1, 1);
            Alpha.copy_(where(searchedRows, Alpha, before));
        }
        FixDecidedLayers();
        return penalty;
    }

    /// <summary>Fixes the layers whose top block leads the second by EarlyFixMargin, unless that block would leave no
    /// child within the budgets (with the layers fixed so far): the search could then not end.</summary>
    private void FixDecidedLayers()
    {
        var probabilities = Probabilities();
        List<ResourceBudget>? budgets = null;
        for (int l = 0; l < _fixed.Length; l++)
        {
            if (_fixed[l] is not null) continue;
            var sorted = probabilities[l].OrderByDescending(v => v).ToArray();
            if (sorted[0] - sorted[1] < Options.EarlyFixMargin) continue;
            int choice = Array.IndexOf(probabilities[l], sorted[0]);
            budgets ??= Budgets();
            if (budgets.Count > 0)
            {
                var allowed = Allowed();
                for (int c = 0; c < BlockChoices.Count; c++) allowed[l][c] = c == choice;
                if (ChildSelector.MostProbableWithin(probabilities, budgets, allowed) is null) continue;
            }
            _fixed[l] = choice;
        }
    }

    /// <summary>
    /// Ends the search: every layer takes its most probable block, unless that child is over a budget, in which case the
    /// most probable child within the budgets is chosen (fixed layers stay as they are). Returns the final path.
    /// </summary>
    public int[] Freeze()
    {
        var path = ArgmaxPath();
        if (!WithinBudget(path)) path = MostProbableWithinBudget() ?? throw new InvalidOperationException(BudgetError());
        for (int l = 0; l < path.Length; l++) _fixed[l] = path[l];
        return path;
    }

    /// <summary>Whether a child meets the budgets.</summary>
    public bool WithinBudget(IReadOnlyList<int> path)
        => (Options.MaxMFlops is not double mf || ChildFlops(path) <= mf * 1e6)
        && (Options.MaxParameters is not long mp || ChildParameterCount(path) <= mp)
        && (!CostBudgetApplies || ChildCost(path) <= _costLimit);

    // The same totals as SearchSpace.ChildMultiplyAdds/ChildParameters, from the per-block tables built once.
    private long ChildFlops(IReadOnlyList<int> path) => Space.FixedMultiplyAdds + path.Select((c, l) => _flops[l][c]).Sum();

    private long ChildParameterCount(IReadOnlyList<int> path) => Space.FixedParameters + path.Select((c, l) => _parameters[l][c]).Sum();

    /// <summary>The most probable child within the budgets, respecting fixed layers; null when none fits.</summary>
    public int[]? MostProbableWithinBudget() => ChildSelector.MostProbableWithin(Probabilities(), Budgets(), Allowed());

    private bool[][] Allowed() => _fixed.Select(f => Enumerable.Range(0, BlockChoices.Count).Select(c => f is null ? _candidates[c] : f == c).ToArray()).ToArray();

    /// <summary>The budgets that apply, the measured cost first (block costs; the child's fixed parts taken off).</summary>
    private List<ResourceBudget> Budgets()
    {
        var budgets = new List<ResourceBudget>();
        if (CostBudgetApplies) budgets.Add(new ResourceBudget(_costThousandths!, _costLimit));
        if (Options.MaxMFlops is double mf) budgets.Add(new ResourceBudget(_flops, (long)Math.Floor(mf * 1e6) - Space.FixedMultiplyAdds));
        if (Options.MaxParameters is long mp) budgets.Add(new ResourceBudget(_parameters, mp - Space.FixedParameters));
        return budgets;
    }

    private void CheckBudgetsReachable()
    {
        if (Options.MaxMFlops is null && Options.MaxParameters is null) return;
        if (Options.MaxRelativeCost is not null && _costThousandths is null) return; // checked again once the costs are known
        if (MostProbableWithinBudget() is null) throw new ArgumentOutOfRangeException(
            Options.MaxMFlops is not null ? nameof(Options.MaxMFlops) : nameof(Options.MaxParameters), BudgetError());
    }

    private string BudgetError()
    {
        int layers = _fixed.Length;
        var cheapestFlops = Space.FixedMultiplyAdds + _flops.Sum(Cheapest);
        var cheapestParams = Space.FixedParameters + _parameters.Sum(Cheapest);
        return $"No child of this search space meets the budgets (MaxMFlops {Options.MaxMFlops?.ToString() ?? "none"}, " +
               $"MaxParameters {Options.MaxParameters?.ToString() ?? "none"}, MaxRelativeCost {Options.MaxRelativeCost?.ToString() ?? "none"}): " +
               $"the smallest child has {cheapestFlops / 1e6:F2} MFLOPs and {cheapestParams} parameters over {layers} layers.";
    }

    /// <summary>Alpha's values, for checkpoints.</summary>
    public float[] SaveState() => Alpha.detach().cpu().data<float>().ToArray();

    /// <summary>Restores alpha's values and the fixed layers, for resuming.</summary>
    public void LoadState(float[] alpha, IReadOnlyList<int?> fixedChoices)
    {
        using (no_grad()) Alpha.copy_(tensor(alpha, Alpha.shape).to(Alpha.device));
        _probabilities = null;
        for (int l = 0; l < _fixed.Length; l++) _fixed[l] = fixedChoices[l];
    }

    /// <summary>Restarts path sampling from <paramref name="seed"/> (each epoch reseeds, so resumed runs repeat).</summary>
    public void Reseed(int seed) => _random = new Random(seed);

    /// <summary>Writes alpha, the fixed layers and the optimizer's state (for checkpoints).</summary>
    public void WriteState(BinaryWriter writer)
    {
        var alpha = SaveState();
        writer.Write(alpha.Length);
        foreach (var v in alpha) writer.Write(v);
        foreach (var f in _fixed) writer.Write(f ?? -1);
        _optimizer.WriteState(writer);
    }

    /// <summary>Reads what <see cref="WriteState"/> wrote.</summary>
    public void ReadState(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count != _fixed.Length * BlockChoices.Count) throw new InvalidDataException($"The saved alpha has {count} values; this search space needs {_fixed.Length * BlockChoices.Count}.");
        var alpha = new float[count];
        for (int i = 0; i < count; i++) alpha[i] = reader.ReadSingle();
        var fixedChoices = new int?[_fixed.Length];
        for (int l = 0; l < fixedChoices.Length; l++) { int f = reader.ReadInt32(); fixedChoices[l] = f < 0 ? null : f; }
        LoadState(alpha, fixedChoices);
        _optimizer.ReadState(reader);
    }

    private static double Gaussian(Random random)
        => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _excluded?.Dispose();
        Alpha.Dispose();
    }
}
