using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// Holds every candidate block of every layer but forwards only the sampled one, so compute and memory follow the
/// child, not the supernet. The DSNAS estimator (paper eq. 5) needs dL/dZ_l[s], the gradient of the loss with respect
/// to the one-hot gate Z that multiplies each sampled block's output. Two ways give it from the one backward pass:
/// <see cref="Gates"/> multiplies by Z literally (a leaf that requires grad: the paper's formulation), and
/// <see cref="RecordGateGradients"/> computes the same number without the multiplication: at Z = 1,
/// dL/dZ_l = sum(y_l * dL/dy_l) for the gated output y_l, read from the retained gradient of y_l. The second saves one
/// activation-sized tensor per layer and two element-wise passes; the tests check that both agree.
/// Z gates only the candidate's own channels (<see cref="ChoiceBlock.ForwardParts(Tensor)"/>), not what all candidates share
/// (a stride-1 block's pass-through half, a shared projection): gating the whole output made dL/dZ exactly zero, up to
/// batch-norm epsilon, for every layer whose output feeds only batch-normalized convolutions (the layer before each
/// widening layer and the last layer: 4 of the Compact space's 10), so their alpha learned from rounding noise
/// (docs/algorithm.md, "Gate gradients and batch norm").
/// </summary>
public sealed class Supernet : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    // Per layer one block per choice in BlockChoice order; with shared kernels two: the ShuffleNet candidates' common
    // block (built as Shuffle7, cut to 5x5 and 3x3 for the others) and the Xception block.
    private readonly ModuleList<ModuleList<ChoiceBlock>> layers;
    private readonly bool _sharedKernels;
    // The projection each widening layer's candidates share, in layer order (a list, not a ModuleDict: TorchSharp 0.107
    // cannot move a ModuleDict to another device or dtype, its two indexers break Module.to).
    private readonly ModuleList<Sequential> projections;
    private readonly int[] _projectionIndex; // by layer: its entry in projections, or -1
    private readonly Sequential tail;
    private readonly ClassifierDropout dropout;
    private readonly Linear classifier;
    private readonly ConvSequenceRunner _stem, _tail; // for the mixed-precision forward
    private readonly ConvSequenceRunner[] _projections;

    /// <summary>Builds all candidates on the CPU.</summary>
    public Supernet(SearchSpace space) : base(nameof(Supernet))
    {
        ArgumentNullException.ThrowIfNull(space);
        Space = space;
        double eps = space.Options.BatchNormEpsilon;
        stem = ConvSequence.Build(new[] { space.Stem }, eps);
        _sharedKernels = space.Options.SharedKernels;
        var built = _sharedKernels ? new[] { BlockChoice.Shuffle7, BlockChoice.Xception } : Enum.GetValues<BlockChoice>();
        layers = nn.ModuleList(space.Layers.Select(l =>
            nn.ModuleList(built.Select(c => new ChoiceBlock(l.Plan(c), eps, withProjection: !l.SharedProjection)).ToArray())).ToArray());
        var shared = space.Layers.Where(l => l.SharedProjection).ToArray();
        projections = nn.ModuleList(shared.Select(l => ConvSequence.Build(l.Plan(BlockChoice.Shuffle3).Projection, eps)).ToArray());
        _projectionIndex = space.Layers.Select(l => Array.IndexOf(shared, l)).ToArray();
        tail = ConvSequence.Build(new[] { space.Tail }, eps);
        dropout = new ClassifierDropout(space.Options.Dropout);
        classifier = nn.Linear(space.Tail.OutChannels, space.Classes);
        _stem = new ConvSequenceRunner(stem, new[] { space.Stem });
        _tail = new ConvSequenceRunner(tail, new[] { space.Tail });
        _projections = shared.Select((l, j) => new ConvSequenceRunner(projections[j], l.Plan(BlockChoice.Shuffle3).Projection)).ToArray();
        RegisterComponents();
    }

    /// <summary>The type the convolutions and the classifier compute in when the network is in training mode
    /// (<see cref="ChildNetwork.TrainingComputeType"/>); null (default): the weights' own type.</summary>
    internal ScalarType? TrainingComputeType { get; set; }

    /// <summary>The CPU generator of the dropout masks in training (<see cref="ClassifierDropout.Generator"/>); null: libtorch's global one.</summary>
    public Generator? DropoutGenerator
    {
        get => dropout.Generator;
        set => dropout.Generator = value;
    }

    /// <summary>The search space.</summary>
    public SearchSpace Space { get; }

    /// <summary>The output parts (<see cref="ChoiceBlock.ForwardParts(Tensor)"/>) of candidate <paramref name="choice"/> of
    /// layer <paramref name="layer"/> alone (for measuring its cost), in the arithmetic of <see cref="forward"/>.</summary>
    public (Tensor? Shared, Tensor Candidate) CandidateParts(int layer, int choice, Tensor input)
    {
        var (index, kernel) = Module(choice);
        return layers[layer][index].ForwardParts(input, kernel, training ? TrainingComputeType : null);
    }

    // Where candidate `choice` lives in its layer's list, and the kernel it cuts its block's depthwise kernels to (null: none).
    private (int Index, int? Kernel) Module(int choice)
    {
        if (!_sharedKernels) return (choice, null);
        var c = (BlockChoice)choice;
        return c == BlockChoice.Xception ? (1, null) : (0, c == BlockChoice.Shuffle7 ? null : BlockPlan.Kernel(c));
    }

    /// <summary>The path <see cref="forward"/> uses (set it before each forward).</summary>
    public IReadOnlyList<int>? Path { get; set; }

    /// <summary>The one-hot Z [L, 4] the block outputs are multiplied by; null = no multiplication.</summary>
    public Tensor? Gates { get; set; }

    /// <summary>Keep each block output's gradient so that <see cref="GateGradients"/> can be read after backward.</summary>
    public bool RecordGateGradients { get; set; }

    private readonly List<Tensor> _recorded = new();

    /// <summary>Forwards <paramref name="input"/> through the blocks of <see cref="Path"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        var path = Path ?? throw new InvalidOperationException("Set Supernet.Path before forward.");
        var compute = training ? TrainingComputeType : null;
        var x = _stem.Forward(input, null, compute);
        ReleaseRecorded();
        for (int l = 0; l < layers.Count; l++)
        {
            var (index, kernel) = Module(path[l]);
            var (shared, candidate) = layers[l][index].ForwardParts(x, kernel, compute);
            if (_projectionIndex[l] is var j and >= 0) shared = _projections[j].Forward(x, null, compute);
            if (RecordGateGradients && candidate.requires_grad)
            {
                candidate.retain_grad();
                _recorded.Add(candidate);
            }
            if (Gates is not null) candidate = candidate * Gates[l, path[l]];
            x = shared is null ? candidate : cat(new[] { shared, candidate }, 1);
        }
        x = _tail.Forward(x, null, compute).mean(new long[] { 2, 3 });
        return MixedPrecision.Classify(classifier, dropout.forward(x), compute);
    }

    /// <summary>
    /// dL/dZ_l[s_l] for every layer, float [L], after backward of a forward with <see cref="RecordGateGradients"/>:
    /// sum(y_l * dL/dy_l) over the gated channels y_l. Releases the recorded outputs. The result belongs to the caller's dispose scope.
    /// </summary>
    public Tensor GateGradients()
    {
        if (_recorded.Count != layers.Count) throw new InvalidOperationException("No recorded forward: set RecordGateGradients and run forward and backward first.");
        using var scope = NewDisposeScope();
        var result = stack(_recorded.Select(y =>
        {
            using var grad = y.grad ?? throw new InvalidOperationException("Block outputs have no gradient: run backward first.");
            // One fused pass, no temporary; a mixed-precision output and its gradient are summed in float32.
            return y.dtype == ScalarType.Float32 ? y.detach().flatten().dot(grad.flatten())
                : y.detach().flatten().to(ScalarType.Float32).dot(grad.flatten().to(ScalarType.Float32));
        }).ToArray()).MoveToOuterDisposeScope();
        ReleaseRecorded();
        return result;
    }

    private void ReleaseRecorded()
    {
        foreach (var y in _recorded) y.Dispose();
        _recorded.Clear();
    }

    /// <summary>
    /// A standalone child with copies of the trained weights and batch-norm statistics of the chosen blocks, on the
    /// supernet's device. The supernet can be disposed afterwards.
    /// </summary>
    public ChildNetwork ExtractChild(IReadOnlyList<int> path)
    {
        var child = new ChildNetwork(Space, path);
        var device = stem.parameters().First().device;
        child.to(device);
        var source = state_dict();
        using var _ = no_grad();
        foreach (var (name, target) in child.state_dict())
        {
            using var scope = NewDisposeScope(); // the views Centre makes
            // blocks.{l}.rest -> layers.{l}.{i}.rest (i: the candidate's entry, see Module), or projections.{j}.rest for a shared
            // projection (j: its entry); stem, tail and classifier keep their names.
            var key = name;
            if (name.StartsWith("blocks.", StringComparison.Ordinal))
            {
                var parts = name.Split('.', 3);
                int l = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                const string projection = "projection.";
                key = Space.Layers[l].SharedProjection && parts[2].StartsWith(projection, StringComparison.Ordinal)
                    ? $"projections.{_projectionIndex[l]}.{parts[2][projection.Length..]}"
                    : $"layers.{l}.{Module(path[l]).Index}.{parts[2]}";
            }
            var weights = source[key];
            // A shared 7x7 depthwise kernel is cut to the child's smaller one, as the supernet's forward cuts it.
            target.copy_(weights.shape.SequenceEqual(target.shape) ? weights : ConvSequence.Centre(weights, target.shape[2]));
        }
        return child;
    }
}
