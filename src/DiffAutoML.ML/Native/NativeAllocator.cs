using System.Runtime.InteropServices;

namespace DiffAutoML.ML.Native;

/// <summary>
/// glibc's malloc settings while Fit runs, on Linux. libtorch takes its CPU tensors from malloc, and a training step
/// allocates and frees activations of tens of MiB. glibc serves a block over its mmap threshold (which it raises by
/// itself to 32 MiB at most) with new pages from the kernel and unmaps it when freed, so every step page-faults its
/// largest tensors in again: at 64x64, batch 128, where the stem's activations are 33.5 MB, a step of the all-k3 child
/// took 1.15 s against 0.27 s with the settings below, and at 128x128 12.7 s against 1.1 s (docs/benchmarks.md, "Native
/// memory on Linux"). The freed blocks stay in the process: peak memory up to 1.6x.
/// </summary>
/// <remarks>
/// While at least one Fit runs: no mmap (M_MMAP_MAX 0; blocks come from the heap and freed ones are reused) and freed
/// memory kept unless over 1 GiB (M_TRIM_THRESHOLD). When the last Fit ends, the thresholds are set to the values glibc's
/// own dynamic thresholds reach once large blocks have been freed (mmap over 32 MiB, trim over 64 MiB; setting any of
/// them ends the dynamic adjustment) and the freed memory is returned (malloc_trim). Nothing happens elsewhere (another
/// C library, Windows, macOS) or when <see cref="Api.DiffAutoMLOptions.TuneNativeAllocator"/> is false.
/// </remarks>
internal static class NativeAllocator
{
    private const int TrimThreshold = -1, MmapThreshold = -3, MmapMax = -4;
    private const int DuringFitTrim = 1 << 30, AfterFitMmapThreshold = 32 << 20, AfterFitTrim = 64 << 20, GlibcDefaultMmapMax = 65536;

    private static readonly object Gate = new();
    private static int _fits;

    /// <summary>Whether this process's C library is glibc, whose settings this class changes.</summary>
    public static bool IsGlibc { get; } = OperatingSystem.IsLinux() && Probe();

    /// <summary>Applies the settings for a Fit (the first of those running); disposing the result ends its share.</summary>
    public static IDisposable DuringFit(bool enabled)
    {
        if (!enabled || !IsGlibc) return Lease.None;
        lock (Gate)
        {
            if (_fits++ == 0)
            {
                mallopt(MmapMax, 0);
                mallopt(TrimThreshold, DuringFitTrim);
            }
        }
        return new Lease();
    }

    private static void Release()
    {
        lock (Gate)
        {
            if (--_fits > 0) return;
            mallopt(MmapMax, GlibcDefaultMmapMax);
            mallopt(MmapThreshold, AfterFitMmapThreshold);
            mallopt(TrimThreshold, AfterFitTrim);
            malloc_trim(0);
        }
    }

    private static bool Probe()
    {
        try
        {
            return gnu_get_libc_version() != IntPtr.Zero;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and others: their allocators work differently
        }
    }

    private sealed class Lease : IDisposable
    {
        public static readonly IDisposable None = new NoLease();
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Release();
        }

        private sealed class NoLease : IDisposable
        {
            public void Dispose() { }
        }
    }

    /// <summary>The environment variable libtorch reads, at its first CPU allocation, to put blocks of 2 MiB and more on
    /// transparent huge pages (2 MiB alignment and madvise).</summary>
    public const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>
    /// Asks libtorch for transparent huge pages (<see cref="HugePagesVariable"/> = 1 in the native environment) unless
    /// the environment already sets the variable (0 turns it off). Must run before libtorch's first CPU allocation, which
    /// reads it once: <see cref="TorchRuntime.EnsureCpu"/> calls it before loading TorchSharp.
    /// </summary>
    /// <remarks>
    /// Why: glibc gives every thread but the main one an arena whose heaps hold 64 MiB at most, and maps a larger block
    /// fresh from the kernel whatever <see cref="DuringFit"/> sets. Fit runs on a pool thread in servers, notebooks and
    /// tests, and from 128x128 at batch 128 its largest activations are over 64 MiB: a step of the all-k3 child took
    /// 10.4 s there against 0.97 s on the main thread. On huge pages each fault brings in 2 MiB instead of 4 KiB: 1.97 s
    /// (1.05 s on the main thread). docs/benchmarks.md, "On a pool thread: libtorch's huge pages".
    /// </remarks>
    public static void RequestHugePages()
    {
        if (!IsGlibc) return;
        // .NET keeps its own copy of the environment: a value set there (Environment.SetEnvironmentVariable) counts too.
        // setenv with overwrite 0 keeps a value the native environment already has. This runs once, before libtorch is
        // loaded, and .NET itself never calls setenv, so no native reader sees the environment array replaced.
        setenv(HugePagesVariable, Environment.GetEnvironmentVariable(HugePagesVariable) ?? "1", 0);
    }

    /// <summary>The native environment's value of <paramref name="name"/> (what libtorch reads), or null.</summary>
    internal static string? NativeVariable(string name) => Marshal.PtrToStringUTF8(getenv(name));

    [DllImport("libc.so.6")]
    private static extern int mallopt(int parameter, int value);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern IntPtr getenv(string name);

    [DllImport("libc.so.6")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc.so.6")]
    private static extern IntPtr gnu_get_libc_version();
}
