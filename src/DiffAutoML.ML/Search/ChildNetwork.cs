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
        RegisterComponents();
    }

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
        var x = stem.forward(input);
        foreach (var block in blocks) x = block.forward(x);
        x = tail.forward(x).mean(new long[] { 2, 3 });
        return classifier.forward(dropout.forward(x));
    }
}
