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

    /// <summary>The centre <paramref name="kernel"/> x <paramref name="kernel"/> of a [out, in, k, k] weight (a view).</summary>
    public static Tensor Centre(Tensor weight, long kernel)
    {
        long offset = (weight.shape[2] - kernel) / 2;
        return weight.narrow(2, offset, kernel).narrow(3, offset, kernel);
    }
}
