using DiffAutoML.ML.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// Dropout before the classifier (inverted: kept values are scaled by 1/(1-p) in training, the identity otherwise),
/// drawing its mask from <see cref="Generator"/> when one is set and the input is on the CPU.
/// </summary>
/// <remarks>
/// TorchSharp's <c>nn.Dropout</c> draws from libtorch's global generator, one per process, so two Fits running at the same
/// time took each other's random numbers and neither was reproducible. TorchSharp 0.107 creates CPU generators only,
/// so on CUDA the mask still comes from the global generator (CUDA runs are not bit-identical anyway, docs/gpu.md).
/// </remarks>
public sealed class ClassifierDropout : nn.Module<Tensor, Tensor>
{
    private readonly Scalar _probability;
    private readonly Scalar _keepScale;

    /// <summary>Dropout with probability <paramref name="probability"/> in [0, 1).</summary>
    public ClassifierDropout(double probability) : base(nameof(ClassifierDropout))
    {
        if (!(probability >= 0 && probability < 1)) throw new ArgumentOutOfRangeException(nameof(probability), probability, "must be in [0, 1)");
        Probability = probability;
        _probability = Scalars.Of(probability);
        _keepScale = Scalars.Of(1 / (1 - probability));
    }

    /// <summary>The probability of zeroing a value in training.</summary>
    public double Probability { get; }

    /// <summary>The CPU generator the masks come from; null: libtorch's global generator.</summary>
    public Generator? Generator { get; set; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || Probability == 0) return input;
        if (Generator is null || input.device_type != DeviceType.CPU) return nn.functional.dropout(input, Probability, training: true);
        using var mask = rand(input.shape, dtype: input.dtype, generator: Generator).ge_(_probability).mul_(_keepScale);
        return input.mul(mask);
    }
}
