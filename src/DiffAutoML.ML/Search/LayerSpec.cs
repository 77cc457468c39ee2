namespace DiffAutoML.ML.Search;

/// <summary>One choice layer: its channels, stride and input size, and whether its candidates share one projection
/// branch (widening layers only; <see cref="SearchSpaceOptions.SharedProjections"/>).</summary>
public sealed record LayerSpec(int Index, int InChannels, int OutChannels, int Stride, int InputHeight, int InputWidth, bool SharedProjection = false)
{
    /// <summary>Depthwise kernel of the projection branch that the candidates share.</summary>
    public const int SharedProjectionKernel = 3;

    /// <summary>The plan of candidate <paramref name="choice"/> in this layer.</summary>
    public BlockPlan Plan(BlockChoice choice)
        => BlockPlan.Create(choice, InChannels, OutChannels, Stride, SharedProjection ? SharedProjectionKernel : null);
}
