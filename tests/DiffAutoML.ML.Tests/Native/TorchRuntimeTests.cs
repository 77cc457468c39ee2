using DiffAutoML.ML.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Native;

public class TorchRuntimeTests
{
    [Fact]
    public void TorchSharp_loads_and_computes_on_this_machine()
    {
        TorchRuntime.EnsureCpu();
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        var b = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }

    [Fact]
    public void Loading_libtorch_turns_nnpack_off()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64,
            "the flag is reached through libtorch's Linux x64 symbols");
        TorchRuntime.EnsureCpu();
        Assert.False(LibtorchContextFlag.Nnpack.Get());
        // One thread and a batch under 16 is where libtorch asked for NNPACK on every convolution: the convolution
        // still computes (here a 1x1 kernel of weight 2 doubles the input).
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            using var scope = NewDisposeScope();
            var input = arange(8f).view(2, 1, 2, 2);
            var output = nn.functional.conv2d(input, full(1, 1, 1, 1, 2f));
            Assert.Equal(Enumerable.Range(0, 8).Select(i => 2f * i).ToArray(), output.data<float>().ToArray());
        }
        finally { set_num_threads(threads); }
    }
}
