using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// Mixed-precision arithmetic by hand (TorchSharp 0.107 has no autocast): a convolution or the classifier casts its
/// input and its float32 weights to the compute type as it runs, so autograd returns the gradients to the float32
/// weights in float32, and batch norm takes the low-precision input with its float32 weights and statistics. Only the
/// networks' training forwards use it (<see cref="ChildNetwork.TrainingComputeType"/>); evaluation runs in float32, as
/// the returned model does.
/// </summary>
internal static class MixedPrecision
{
    /// <summary><paramref name="tensor"/> in <paramref name="compute"/> (the tensor itself when it already is, or when
    /// <paramref name="compute"/> is null).</summary>
    public static Tensor Cast(Tensor tensor, ScalarType? compute)
        => compute is ScalarType type && tensor.dtype != type ? tensor.to(type) : tensor;

    /// <summary>
    /// The type the training forwards compute in for <paramref name="precision"/> on <paramref name="device"/>: bfloat16
    /// on CUDA, else null (float32). On the CPU, libtorch 2.10's bfloat16 convolutions (TorchSharp 0.107) return wrong
    /// results for some of this library's shapes (measured 2026-12-04: a 3x3 convolution to 8 channels off by 40-72% of
    /// its output, 16 channels right; strided depthwise convolutions' input gradients at cosine 0.2-0.9 with float32's),
    /// so there training stays float32 and <paramref name="log"/> says so.
    /// </summary>
    public static ScalarType? ComputeType(Api.TrainingPrecision precision, Device device, Action<string> log)
    {
        if (precision != Api.TrainingPrecision.BFloat16) return null;
        if (device.type == DeviceType.CUDA) return ScalarType.BFloat16;
        log("Precision BFloat16 is not applied on the CPU: libtorch's bfloat16 convolutions there are wrong for some shapes (docs/benchmarks.md, \"Mixed precision\"); training runs in float32.");
        return null;
    }

    /// <summary>The classifier's logits, computed in <paramref name="compute"/> and returned in float32 for the loss.</summary>
    public static Tensor Classify(Linear classifier, Tensor features, ScalarType? compute)
        => compute is null
            ? classifier.forward(features)
            : nn.functional.linear(Cast(features, compute), Cast(classifier.weight!, compute), classifier.bias is null ? null : Cast(classifier.bias, compute))
                .to(ScalarType.Float32);
}
