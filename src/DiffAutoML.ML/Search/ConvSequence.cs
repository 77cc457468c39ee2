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
    /// The forward of a sequence built by <see cref="Build"/> from <paramref name="specs"/> (<paramref name="modules"/>: its
    /// children by name) with every depthwise kernel larger than <paramref name="kernel"/> cut to its centre kernel x
    /// kernel: a smaller candidate that shares a larger one's weights (<see cref="SearchSpaceOptions.SharedKernels"/>).
    /// Zero-padding the cut kernel back to full size would give the same output; the cut is cheaper.
    /// </summary>
    public static Tensor ForwardWithKernel(IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyList<ConvSpec> specs, Tensor input, int kernel)
    {
        var x = input;
        for (int i = 0; i < specs.Count; i++)
        {
            var s = specs[i];
            var conv = (Conv2d)modules[$"conv{i}"];
            x = s.Depthwise && s.Kernel > kernel
                ? nn.functional.conv2d(x, Centre(conv.weight!, kernel), strides: new long[] { s.Stride }, padding: new long[] { kernel / 2 }, groups: s.InChannels)
                : conv.forward(x);
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
