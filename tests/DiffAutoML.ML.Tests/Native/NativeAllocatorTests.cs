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
