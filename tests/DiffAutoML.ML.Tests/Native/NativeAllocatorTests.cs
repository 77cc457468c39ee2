using System.Runtime.InteropServices;
using DiffAutoML.ML.Native;
using Xunit;

namespace DiffAutoML.ML.Tests.Native;

/// <summary>In the heavy collection: the settings are the process's, and no Fit may run beside the checks.</summary>
[Collection(HeavyTestsCollection.Name)]
public sealed class NativeAllocatorTests
{
    private const int Block = 40 << 20; // over glibc's largest dynamic mmap threshold (32 MiB)

    /// <summary>Set in the child process, which runs the check itself.</summary>
    private const string ChildVariable = "DIFFAUTOML_ALLOCATOR_CHILD";

    [Fact]
    public void While_a_fit_runs_large_blocks_come_from_the_heap_and_afterwards_from_mmap_again()
    {
        Assert.SkipUnless(NativeAllocator.IsGlibc, "glibc's malloc only");
        if (!FreshProcess.IsChild(ChildVariable))
        {
            // In a fresh process: after a Fit in this one, a freed block in the heap may serve the request whatever the settings.
            FreshProcess.RunTest(typeof(NativeAllocatorTests), nameof(While_a_fit_runs_large_blocks_come_from_the_heap_and_afterwards_from_mmap_again),
                ChildVariable, TimeSpan.FromMinutes(2));
            return;
        }
        Assert.Equal(Block, MappedBy(Block)); // glibc's defaults
        using (NativeAllocator.DuringFit(enabled: false))
            Assert.Equal(Block, MappedBy(Block));
        using (NativeAllocator.DuringFit(enabled: true))
        {
            Assert.Equal(0, MappedBy(Block));
            // A second Fit ending first leaves the settings to the one still running.
            NativeAllocator.DuringFit(enabled: true).Dispose();
            Assert.Equal(0, MappedBy(Block));
        }
        // After the last Fit, a block over the threshold and larger than the freed one is mapped again.
        Assert.Equal(Block + (8 << 20), MappedBy(Block + (8 << 20)));
    }

    [Fact]
    public void Libtorch_puts_large_tensors_on_huge_pages_once_torch_is_loaded_through_the_library()
    {
        Assert.SkipUnless(NativeAllocator.IsGlibc && File.Exists("/sys/kernel/mm/transparent_hugepage/enabled"), "Linux with transparent huge pages only");
        if (!FreshProcess.IsChild(HugePagesChildVariable))
        {
            // In a fresh process: libtorch reads the setting at its first allocation, and this one has loaded it already.
            FreshProcess.RunTest(typeof(NativeAllocatorTests), nameof(Libtorch_puts_large_tensors_on_huge_pages_once_torch_is_loaded_through_the_library),
                HugePagesChildVariable, TimeSpan.FromMinutes(2));
            return;
        }
        Assert.SkipWhen(Environment.GetEnvironmentVariable(NativeAllocator.HugePagesVariable) is not null, "the environment sets " + NativeAllocator.HugePagesVariable);
        TorchRuntime.EnsureCpu();
        Assert.Equal("1", NativeAllocator.NativeVariable(NativeAllocator.HugePagesVariable));
        long before = HugePageAdvisedBytes();
        using var tensor = TorchSharp.torch.ones(16L << 20); // 64 MiB of float32
        // libtorch advises huge pages (madvise) for the block: the kernel marks its mapping "hg" (smaps VmFlags).
        Assert.True(HugePageAdvisedBytes() - before >= 64L << 20, $"{HugePageAdvisedBytes() - before} bytes advised for huge pages");
    }

    private const string HugePagesChildVariable = "DIFFAUTOML_HUGE_PAGES_CHILD";

    /// <summary>The size of this process's mappings advised for huge pages (madvise MADV_HUGEPAGE), from /proc/self/smaps.</summary>
    private static long HugePageAdvisedBytes()
    {
        long total = 0, size = 0;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.StartsWith("Size:", StringComparison.Ordinal)) size = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            else if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && line.Split(' ').Contains("hg")) total += size;
        }
        return total;
    }

    /// <summary>How many bytes more glibc holds in mmapped regions while a block of <paramref name="size"/> is allocated.</summary>
    private static long MappedBy(int size)
    {
        long before = (long)mallinfo2().hblkhd;
        IntPtr block = Marshal.AllocHGlobal(size); // malloc on Linux
        try
        {
            long during = (long)mallinfo2().hblkhd;
            // mmap rounds up to whole pages (and a header): count the block, not the rounding.
            return during - before >= size ? size : during - before;
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc.so.6")]
    private static extern MallInfo2 mallinfo2();
}
