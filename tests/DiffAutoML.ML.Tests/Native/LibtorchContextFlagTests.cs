using System.Runtime.InteropServices;
using DiffAutoML.ML.Native;

namespace DiffAutoML.ML.Tests.Native;

// In the heavy collection, so that it never flips the process's flag while a CUDA Fit checks that Fit put it back.
[Collection(HeavyTestsCollection.Name)]
public class LibtorchContextFlagTests
{
    [Fact]
    public void The_cudnn_benchmark_flag_is_set_and_read_back_in_libtorch()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64,
            "the flag is reached through libtorch's Linux x64 symbols");
        TorchRuntime.EnsureCpu();
        var flag = LibtorchContextFlag.CudnnBenchmark;
        bool before = flag.Get() ?? throw new InvalidOperationException("the flag could not be read");
        try
        {
            // The CPU libtorch holds the flag too (cuDNN reads it only on CUDA), so the round trip is tested here.
            Assert.True(flag.TrySet(!before));
            Assert.Equal(!before, flag.Get());
            Assert.True(flag.TrySet(before));
            Assert.Equal(before, flag.Get());
            // The two flags are distinct settings: NNPACK stays off whatever cuDNN's flag says.
            Assert.True(flag.TrySet(true));
            Assert.False(LibtorchContextFlag.Nnpack.Get());
        }
        finally { flag.TrySet(before); }
    }
}
