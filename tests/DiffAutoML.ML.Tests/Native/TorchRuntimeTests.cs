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
}
