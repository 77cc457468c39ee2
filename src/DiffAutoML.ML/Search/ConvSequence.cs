using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>Builds conv-BN(-ReLU) modules from <see cref="ConvSpec"/>s (on the CPU; the caller moves the network).</summary>
internal static class ConvSequence
{
    public static Sequential Build(IEnumerable<ConvSpec> specs, double epsilon)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        int i = 0;
        foreach (var s in specs)
        {
            modules.Add(($"conv{i}", nn.Conv2d(s.InChannels, s.OutChannels, s.Kernel, stride: s.Stride, padding: s.Kernel / 2,
                groups: s.Depthwise ? s.InChannels : 1, bias: false)));
            modules.Add(($"bn{i}", new KeptScalarBatchNorm2d(s.OutChannels, epsilon)));
            if (s.Relu) modules.Add(($"relu{i}", nn.ReLU()));
            i++;
        }
        return nn.Sequential(modules);
    }

    /// <summary>
    /// The forward of <paramref name="sequence"/> (built by <see cref="Build"/> from <paramref name="specs"/>;
    /// <paramref name="modules"/>: its children by name), with the depthwise kernels cut to <paramref name="kernel"/>
    /// (a smaller candidate that shares a larger one's weights, <see cref="SearchSpaceOptions.SharedKernels"/>: the same
    /// output as the kernel zero-padded back to full size, for less work; null: as built) and the convolutions computed in <paramref name="compute"/>
    /// (<see cref="MixedPrecision"/>; null: in the weights' own type). With neither, the sequence's own forward.
    /// </summary>
    public static Tensor Forward(Sequential sequence, IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyList<ConvSpec> specs, Tensor input, int? kernel, ScalarType? compute)
        => kernel is null && compute is null ? sequence.forward(input) : Forward(modules, specs, input, kernel, compute);

    private static Tensor Forward(IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyList<ConvSpec> specs, Tensor input, int? kernel, ScalarType? compute)
    {
        var x = input;
        for (int i = 0; i < specs.Count; i++)
        {
            var s = specs[i];
            var conv = (Conv2d)modules[$"conv{i}"];
            bool cut = s.Depthwise && kernel is int k && s.Kernel > k;
            if (!cut && compute is null) x = conv.forward(x);
            else
            {
                long size = cut ? kernel!.Value : s.Kernel;
                var weight = cut ? Centre(conv.weight!, size) : conv.weight!;
                x = nn.functional.conv2d(MixedPrecision.Cast(x, compute), MixedPrecision.Cast(weight, compute), strides: new long[] { s.Stride },
                    padding: new long[] { size / 2 }, groups: s.Depthwise ? s.InChannels : 1);
            }
            // Batch norm takes a bfloat16 input with its float32 weights and statistics as they are (mixed types).
            x = ((nn.Module<Tensor, Tensor>)modules[$"bn{i}"]).forward(x);
            if (s.Relu) x = ((nn.Module<Tensor, Tensor>)modules[$"relu{i}"]).forward(x);
        }
        return x;
    }

    /// <summary>The centre <paramref name="kernel"/> x <paramref name="kernel"/> of a [out, in, k, k] weight (a view).</summary>
    public static Tensor Centre(Tensor weight, long kernel)
    {
        long offset = (weight.shape[2] - kernel) / 2;
        return weight.narrow(2, offset, kernel).narrow(3, offset, kernel);
    }
}
