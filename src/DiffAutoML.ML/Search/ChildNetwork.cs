using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// A standalone network holding only the chosen block of each layer: what is trained in the tuning stage and deployed.
/// Input: normalized float [B, C, H, W]; output: class logits [B, classes].
/// </summary>
public sealed class ChildNetwork : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly ModuleList<ChoiceBlock> blocks;
    private readonly Sequential tail;
    private readonly ClassifierDropout dropout;
    private readonly Linear classifier;
    private readonly ConvSequenceRunner _stem, _tail; // for the mixed-precision forward

    /// <summary>Builds the child of <paramref name="space"/> with <paramref name="path"/> (one choice per layer), on the CPU.</summary>
    public ChildNetwork(SearchSpace space, IReadOnlyList<int> path) : base(nameof(ChildNetwork))
    {
        ArgumentNullException.ThrowIfNull(space);
        if (path.Count != space.Layers.Count || path.Any(c => c is < 0 or >= BlockChoices.Count))
            throw new ArgumentException($"The path needs {space.Layers.Count} choices in 0..3; got [{string.Join(", ", path)}].", nameof(path));
        Space = space;
        Path = path.ToArray();
        double eps = space.Options.BatchNormEpsilon;
        stem = ConvSequence.Build(new[] { space.Stem }, eps);
        blocks = nn.ModuleList(space.Layers.Select(l => new ChoiceBlock(l.Plan((BlockChoice)Path[l.Index]), eps)).ToArray());
        tail = ConvSequence.Build(new[] { space.Tail }, eps);
        dropout = new ClassifierDropout(space.Options.Dropout);
        classifier = nn.Linear(space.Tail.OutChannels, space.Classes);
        _stem = new ConvSequenceRunner(stem, new[] { space.Stem });
        _tail = new ConvSequenceRunner(tail, new[] { space.Tail });
        RegisterComponents();
    }

    /// <summary>
    /// The type the convolutions and the classifier compute in when the network is in training mode (mixed precision,
    /// <see cref="MixedPrecision"/>; the logits stay float32); null (default): the weights' own type. Evaluation-mode
    /// forwards always compute in the weights' type, as the returned model does. Meant for CUDA
    /// (<see cref="MixedPrecision.ComputeType"/> says why not the CPU).
    /// </summary>
    internal ScalarType? TrainingComputeType { get; set; }

    /// <summary>The CPU generator of the dropout masks in training (<see cref="ClassifierDropout.Generator"/>); null: libtorch's global one.</summary>
    public Generator? DropoutGenerator
    {
        get => dropout.Generator;
        set => dropout.Generator = value;
    }

    /// <summary>The search space the child comes from.</summary>
    public SearchSpace Space { get; }

    /// <summary>The chosen block of each layer.</summary>
    public IReadOnlyList<int> Path { get; }

    /// <summary>The architecture as a short string ("k3 k5 xc ...").</summary>
    public string Architecture => BlockChoices.Describe(Path);

    /// <summary>Multiply-adds of one forward pass of one image.</summary>
    public long MultiplyAdds => Space.ChildMultiplyAdds(Path);

    /// <summary>Trainable parameters.</summary>
    public long ParameterCount => Space.ChildParameters(Path);

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var compute = training ? TrainingComputeType : null;
        var x = _stem.Forward(input, null, compute);
        foreach (var block in blocks) x = block.Forward(x, compute);
        x = _tail.Forward(x, null, compute).mean(new long[] { 2, 3 });
        return MixedPrecision.Classify(classifier, dropout.forward(x), compute);
    }
}
