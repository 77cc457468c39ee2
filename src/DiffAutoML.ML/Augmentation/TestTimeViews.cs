using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// Test-time augmentation (<see cref="AugmentationOptions.TestTimeFlip"/>, <see cref="AugmentationOptions.TestTimeShift"/>):
/// a network's class probabilities for an image are the mean of its softmax outputs over V views of the image,
/// p(x) = (1/V) sum_v softmax(f(v(x))). The views are the image and, with the shift, its four one-pixel shifts (left,
/// right, up, down; pixels moved in take the fill value, as the training crop's do), and with the flip the left-right
/// mirror of each: V = 1, 2, 5 or 10. Fit measures the validation accuracy this way; the exported ONNX graph
/// (<see cref="Export.OnnxExporter"/>) builds the same views in the same order for scoring.
/// </summary>
public sealed record TestTimeViews(bool Flip, bool Shift, double FillValue = 0)
{
    /// <summary>The image alone.</summary>
    public static readonly TestTimeViews None = new(false, false);

    // Read-only wrappers: the lists are shared by every instance and handed out by Shifts.
    private static readonly IReadOnlyList<(int Dx, int Dy)> OneShift = Array.AsReadOnly(new[] { (0, 0) });
    private static readonly IReadOnlyList<(int Dx, int Dy)> FiveShifts = Array.AsReadOnly(new[] { (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1) });

    /// <summary>The views the options ask the returned model to average.</summary>
    public static TestTimeViews From(AugmentationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.TestTimeFlip, options.TestTimeShift, options.FillValue);
    }

    /// <summary>V, the number of views (the scoring batch is V times the input batch).</summary>
    public int Count => Shifts.Count * (Flip ? 2 : 1);

    /// <summary>The shifts in stacking order: output pixel (x, y) of a view shows input pixel (x + Dx, y + Dy).</summary>
    public IReadOnlyList<(int Dx, int Dy)> Shifts => Shift ? FiveShifts : OneShift;

    /// <summary>
    /// The views of an NCHW batch of pixels (0..255, before normalization, so that the fill value is a pixel value)
    /// stacked view-major: [V N, C, H, W], rows v N .. v N + N - 1 holding view v. The shifted views come first, then
    /// their mirror images in the same order.
    /// </summary>
    public Tensor Stack(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"Expected an NCHW batch; got shape [{string.Join(", ", images.shape)}].", nameof(images));
        using var scope = NewDisposeScope();
        long h = images.shape[2], w = images.shape[3];
        var views = new List<Tensor>();
        if (Shift)
        {
            // Padded by one pixel of the fill on each side: the view shifted by (dx, dy) is the H x W window at (1 + dy, 1 + dx).
            var padded = nn.functional.pad(images, new long[] { 1, 1, 1, 1 }, PaddingModes.Constant, FillValue);
            foreach (var (dx, dy) in Shifts) views.Add(padded.narrow(2, 1 + dy, h).narrow(3, 1 + dx, w));
        }
        else views.Add(images);
        if (Flip) views.AddRange(views.Select(v => v.flip(3)).ToArray());
        return (views.Count == 1 ? images.alias() : cat(views, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>Probabilities [N, classes] of an NCHW batch of pixels (0..255): every view through
    /// <paramref name="network"/> as one batch of V N (in evaluation mode batch norm does not mix them), normalized by
    /// <paramref name="normalize"/>, the softmax outputs averaged over the views.</summary>
    public Tensor Probabilities(nn.Module<Tensor, Tensor> network, Tensor images, Func<Tensor, Tensor> normalize)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(normalize);
        using var scope = NewDisposeScope();
        long n = images.shape[0];
        var probabilities = network.forward(normalize(Stack(images))).softmax(1);
        return probabilities.view(Count, n, -1).mean(new long[] { 0 }).MoveToOuterDisposeScope();
    }
}
