using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>One candidate block built from its <see cref="BlockPlan"/>.</summary>
public sealed class ChoiceBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential main;
    private readonly Sequential? projection;
    private readonly ConvSequenceRunner _main;
    private readonly ConvSequenceRunner? _projection;

    /// <summary>Builds the block on the CPU. Without <paramref name="withProjection"/> a widening block returns its
    /// main branch only (a supernet whose candidates share the layer's projection adds it).</summary>
    public ChoiceBlock(BlockPlan plan, double epsilon, bool withProjection = true) : base(plan.Choice.ToString())
    {
        Plan = plan;
        main = ConvSequence.Build(plan.Main, epsilon);
        projection = !plan.Widens || !withProjection ? null : ConvSequence.Build(plan.Projection, epsilon);
        _main = new ConvSequenceRunner(main, plan.Main);
        _projection = projection is null ? null : new ConvSequenceRunner(projection, plan.Projection);
        RegisterComponents();
    }

    /// <summary>What the block is made of.</summary>
    public BlockPlan Plan { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Forward(input, null);

    /// <summary>The block's output with the convolutions computed in <paramref name="compute"/> (null: the weights' type).</summary>
    public Tensor Forward(Tensor input, ScalarType? compute)
    {
        var (shared, candidate) = ForwardParts(input, null, compute);
        return shared is null ? candidate : cat(new[] { shared, candidate }, 1);
    }

    /// <summary>
    /// The block's output in two parts, concatenated in this order along the channels: what every candidate of the layer
    /// would output alike (the pass-through half of a block that keeps its channels; null for a widening block) and the candidate's own
    /// channels (its main branch, with its own projection in front when it has one). The supernet gates only the second.
    /// </summary>
    public (Tensor? Shared, Tensor Candidate) ForwardParts(Tensor input) => ForwardParts(input, null);

    /// <summary>
    /// <see cref="ForwardParts(Tensor)"/> with the depthwise kernels cut to their centre <paramref name="kernel"/> x
    /// <paramref name="kernel"/> (null: as built): the smaller ShuffleNet candidates of a layer whose candidates share one
    /// set of weights (<see cref="SearchSpaceOptions.SharedKernels"/>).
    /// </summary>
    public (Tensor? Shared, Tensor Candidate) ForwardParts(Tensor input, int? kernel) => ForwardParts(input, kernel, null);

    /// <summary><see cref="ForwardParts(Tensor, int?)"/> with the convolutions computed in <paramref name="compute"/>
    /// (<see cref="MixedPrecision"/>; null: in the weights' type).</summary>
    public (Tensor? Shared, Tensor Candidate) ForwardParts(Tensor input, int? kernel, ScalarType? compute)
    {
        Tensor Main(Tensor x) => _main.Forward(x, kernel, compute);
        if (_projection is not null) return (null, cat(new[] { _projection.Forward(input, kernel, compute), Main(input) }, 1));
        if (Plan.Widens) return (null, Main(input));
        // Channel split (the shuffle): even channels pass through, odd channels go through the main branch.
        long b = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        var pairs = input.view(b, c / 2, 2, h, w);
        return (pairs.select(2, 0), Main(pairs.select(2, 1)));
    }
}
