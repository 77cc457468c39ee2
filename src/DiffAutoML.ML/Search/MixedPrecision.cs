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
    /// The type a convolution of <paramref name="spec"/> computes in on <paramref name="device"/> when the network computes
    /// in <paramref name="compute"/>: float32 for a strided depthwise convolution on the CPU, whose bfloat16 kernel in
    /// libtorch 2.10 (TorchSharp 0.107) returns wrong input gradients (cosine 0.2 to 0.9 with float32's for kernels 3, 5
    /// and 7 at stride 2, where stride 1 and full convolutions give 1.000; measured 2026-12-04), else
    /// <paramref name="compute"/>.
    /// </summary>
    public static ScalarType ConvolutionType(ConvSpec spec, DeviceType device, ScalarType compute)
        => compute == ScalarType.BFloat16 && spec.Depthwise && spec.Stride > 1 && device == DeviceType.CPU ? ScalarType.Float32 : compute;

    /// <summary>The classifier's logits, computed in <paramref name="compute"/> and returned in float32 for the loss.</summary>
    public static Tensor Classify(Linear classifier, Tensor features, ScalarType? compute)
        => compute is null
            ? classifier.forward(features)
            : nn.functional.linear(Cast(features, compute), Cast(classifier.weight!, compute), classifier.bias is null ? null : Cast(classifier.bias, compute))
                .to(ScalarType.Float32);
}
