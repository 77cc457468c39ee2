using DiffAutoML.ML.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// Batch normalization over [N, C, H, W], as TorchSharp's BatchNorm2d (same parameters, buffers and state-dict names,
/// same arithmetic), except that training forwards count batches with a kept Scalar. TorchSharp 0.107's BatchNorm counts
/// them with <c>num_batches_tracked.add_(1)</c>, which passes two temporary Scalars to libtorch; a garbage collection
/// during that call frees them ("Unknown scalar type", "alpha must not be a floating point number"): seen in a CPU
/// training run on 2026-12-02, and reproduced within a second under collection pressure (TemporaryScalarRaceTests).
/// Analyzer DAML001 rejects TorchSharp's batch-norm factories in the library.
/// </summary>
internal sealed class KeptScalarBatchNorm2d : BatchNorm
{
    public KeptScalarBatchNorm2d(long features, double epsilon)
        : base(features, epsilon, momentum: 0.1, affine: true, track_running_stats: true, device: null, dtype: null, name: "BatchNorm2d")
    {
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(Scalars.One, Scalars.One);
            // No momentum: a cumulative average, every batch weighted equally (BatchNormRecalibration); a host read.
            if (momentum is null) factor = 1.0 / num_batches_tracked.item<long>();
        }
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, factor, eps);
    }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"Batch normalization expects a 4-dimensional input [N, C, H, W], not {input.ndim} dimensions.");
    }
}
