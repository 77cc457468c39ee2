using System.Runtime.InteropServices;
using DiffAutoML.ML.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Native;

public class TorchFailureTests
{
    [Fact]
    public void A_real_libtorch_allocation_failure_is_recognized_as_out_of_memory()
    {
        TorchRuntime.EnsureCpu();
        // 2^50 floats (4 PiB): the CPU allocator refuses at once, whatever the machine's overcommit setting.
        var e = Assert.ThrowsAny<ExternalException>(() => empty(new long[] { 1L << 50 }));
        Assert.True(TorchFailure.IsOutOfMemory(e), $"not recognized: {e.Message}");
    }

    [Fact]
    public void Other_libtorch_errors_are_not_taken_for_out_of_memory()
    {
        TorchRuntime.EnsureCpu();
        using var a = zeros(2, 3);
        var e = Assert.ThrowsAny<ExternalException>(() => a.view(7)); // (matmul of bad shapes would end the process: TorchSharp 0.107 does not catch there)
        Assert.False(TorchFailure.IsOutOfMemory(e), $"taken for out of memory: {e.Message}");
        Assert.False(TorchFailure.IsOutOfMemory(new InvalidOperationException("out of memory")));
    }

    [Fact]
    public void The_error_names_the_device_the_batch_sizes_and_what_to_lower()
    {
        // The first line of the CUDA caching allocator's message, as libtorch writes it.
        var cuda = new ExternalException("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 1.2 GiB is free.\nException raised from malloc at ...");
        Assert.True(TorchFailure.IsOutOfMemory(cuda));
        var error = TorchFailure.OutOfMemory(cuda, new Device(DeviceType.CUDA, 0), 4096, 1024); // (torch.CUDA would load the CUDA backend)
        Assert.Same(cuda, error.InnerException);
        Assert.Contains("on cuda:0", error.Message);
        Assert.Contains("BatchSize 4096", error.Message);
        Assert.Contains("validation batch 1024", error.Message);
        Assert.Contains("Device = Cpu", error.Message);
        Assert.Contains("Tried to allocate 20.00 GiB", error.Message);
        Assert.DoesNotContain("raised from", error.Message);
        Assert.DoesNotContain("Device = Cpu", TorchFailure.OutOfMemory(cuda, CPU, 4096, 1024).Message);
    }
}
