namespace DiffAutoML.ML.Search;

/// <summary>One choice layer: its channels, stride and input size.</summary>
public sealed record LayerSpec(int Index, int InChannels, int OutChannels, int Stride, int InputHeight, int InputWidth)
{
    /// <summary>The plan of candidate <paramref name="choice"/> in this layer.</summary>
    public BlockPlan Plan(BlockChoice choice) => BlockPlan.Create(choice, InChannels, OutChannels, Stride);
}
