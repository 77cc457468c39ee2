using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Test-time flip (<see cref="AugmentationOptions.TestTimeFlip"/>): a network's class probabilities for an image are
/// the mean of its softmax outputs on the image and on its left-right mirror image, p(x) = (softmax(f(x)) +
/// softmax(f(flip(x)))) / 2. Fit measures the validation accuracy this way; the exported ONNX graph
/// (<see cref="Export.OnnxExporter"/>) computes the same for scoring.
/// </summary>
public static class MirrorAveraging
{
    /// <summary>Probabilities [N, classes] of a normalized NCHW batch; the images and their mirrors go through
    /// <paramref name="network"/> as one batch of 2N (in evaluation mode batch norm does not mix them).</summary>
    public static Tensor Probabilities(nn.Module<Tensor, Tensor> network, Tensor normalized)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(normalized);
        if (normalized.dim() != 4) throw new ArgumentException($"Expected an NCHW batch; got shape [{string.Join(", ", normalized.shape)}].", nameof(normalized));
        long n = normalized.shape[0];
        var probabilities = network.forward(cat(new[] { normalized, normalized.flip(3) }, 0)).softmax(1);
        return probabilities.view(2, n, -1).mean(new long[] { 0 });
    }
}
