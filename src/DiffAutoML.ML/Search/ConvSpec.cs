namespace DiffAutoML.ML.Search;

/// <summary>
/// One convolution of a network plan, always followed by batch norm and optionally ReLU. Modules are built from these
/// specs and FLOPs and parameters are counted from them, so the two can never disagree.
/// </summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="Kernel">Square kernel size (odd; padding Kernel / 2).</param>
/// <param name="Stride">Stride.</param>
/// <param name="Depthwise">Groups = channels (InChannels must equal OutChannels).</param>
/// <param name="Relu">Whether ReLU follows the batch norm.</param>
public sealed record ConvSpec(int InChannels, int OutChannels, int Kernel, int Stride, bool Depthwise, bool Relu)
{
    /// <summary>Output side length for an input side length (padding Kernel / 2).</summary>
    public int OutputSize(int input) => (input + 2 * (Kernel / 2) - Kernel) / Stride + 1;

    /// <summary>Multiply-adds of the convolution for an input of the given size (batch norm and ReLU not counted).</summary>
    public long MultiplyAdds(int height, int width)
        => (long)OutputSize(height) * OutputSize(width) * OutChannels * (Depthwise ? 1 : InChannels) * Kernel * Kernel;

    /// <summary>Values in the output of the convolution for an input of the given size (one image).</summary>
    public long OutputElements(int height, int width) => (long)OutputSize(height) * OutputSize(width) * OutChannels;

    /// <summary>Weights of the convolution (no bias) plus the batch norm's scale and shift.</summary>
    public long Parameters => (long)OutChannels * (Depthwise ? 1 : InChannels) * Kernel * Kernel + 2L * OutChannels;
}
