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
            modules.Add(($"bn{i}", nn.BatchNorm2d(s.OutChannels, eps: epsilon)));
            if (s.Relu) modules.Add(($"relu{i}", nn.ReLU()));
            i++;
        }
        return nn.Sequential(modules);
    }
}
