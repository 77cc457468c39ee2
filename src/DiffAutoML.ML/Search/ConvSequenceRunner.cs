using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// A sequence built by <see cref="ConvSequence.Build"/>, with its specs and its children by name (taken once, not per
/// step), for the forwards that cut its depthwise kernels or compute in another type. The owning module keeps the
/// sequence itself as its registered child.
/// </summary>
internal sealed class ConvSequenceRunner
{
    private readonly Sequential _sequence;
    private readonly IReadOnlyList<ConvSpec> _specs;
    private readonly Dictionary<string, nn.Module> _modules;

    public ConvSequenceRunner(Sequential sequence, IReadOnlyList<ConvSpec> specs)
    {
        _sequence = sequence;
        _specs = specs;
        _modules = sequence.named_children().ToDictionary(m => m.name, m => m.module);
    }

    /// <summary>
    /// The sequence's output with the depthwise kernels cut to <paramref name="kernel"/> (a smaller candidate that shares a
    /// larger one's weights, <see cref="SearchSpaceOptions.SharedKernels"/>: the same output as the kernel zero-padded back
    /// to full size, for less work; null: as built) and the convolutions computed in <paramref name="compute"/>
    /// (<see cref="MixedPrecision"/>; null: in the weights' own type). With neither, the sequence's own forward.
    /// </summary>
    public Tensor Forward(Tensor input, int? kernel, ScalarType? compute)
    {
        if (kernel is null && compute is null) return _sequence.forward(input);
        var x = input;
        for (int i = 0; i < _specs.Count; i++)
        {
            var s = _specs[i];
            var conv = (Conv2d)_modules[$"conv{i}"];
            bool cut = s.Depthwise && kernel is int k && s.Kernel > k;
            if (!cut && compute is null) x = conv.forward(x);
            else
            {
                long size = cut ? kernel!.Value : s.Kernel;
                var weight = cut ? ConvSequence.Centre(conv.weight!, size) : conv.weight!;
                x = nn.functional.conv2d(MixedPrecision.Cast(x, compute), MixedPrecision.Cast(weight, compute), strides: new long[] { s.Stride },
                    padding: new long[] { size / 2 }, groups: s.Depthwise ? s.InChannels : 1);
            }
            // Batch norm takes a bfloat16 input with its float32 weights and statistics as they are (mixed types).
            x = ((nn.Module<Tensor, Tensor>)_modules[$"bn{i}"]).forward(x);
            if (s.Relu) x = ((nn.Module<Tensor, Tensor>)_modules[$"relu{i}"]).forward(x);
        }
        return x;
    }
}
