using System.Runtime.InteropServices;
using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>
/// Loads TorchSharp's native backend once and turns a failed load into an exception that says what to do.
/// </summary>
/// <remarks>
/// On Debian 12 the library only loads after the build-time patch in <c>build/PatchLibTorchSharp.cs</c>
/// (see docs/torchsharp-on-debian.md). A CUDA libtorch can be taken from a folder (a PyTorch installation's
/// <c>torch/lib</c>) named by <see cref="LibTorchFolderVariable"/>.
/// </remarks>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a folder with a CUDA-enabled libtorch (for example PyTorch's torch/lib).</summary>
    public const string LibTorchFolderVariable = "DIFFAUTOML_LIBTORCH";

    private static readonly object Gate = new();
    private static bool _cpuReady;

    /// <summary>Makes sure TorchSharp's native CPU backend is loaded; throws a clear error when it cannot be.</summary>
    public static void EnsureCpu()
    {
        lock (Gate)
        {
            if (_cpuReady) return;
            NativeAllocator.RequestHugePages(); // before libtorch's first allocation, which reads the setting once
            // Hosts that load assemblies by path without the app's deps.json (notebook kernels, plug-ins) leave
            // TorchSharp unable to find its native libraries, and a failed load inside TorchSharp's static constructor
            // cannot be retried. So first load LibTorchSharp from runtimes/<rid>/native beside TorchSharp.dll (the
            // same file an app's deps.json points to; its RUNPATH $ORIGIN finds libtorch beside it). Skipped when a
            // libtorch folder is named (a CUDA libtorch from PyTorch must not meet the CPU one).
            if (Environment.GetEnvironmentVariable(LibTorchFolderVariable) is null) PreloadFromRuntimesFolder();
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
            {
                throw new InvalidOperationException(DescribeLoadFailure(e), e);
            }
            LibtorchContextFlag.Nnpack.TrySet(false); // why: LibtorchContextFlag.Nnpack
            _cpuReady = true;
        }
    }

    /// <summary>True when a CUDA device can be used (loads the CUDA backend if needed).</summary>
    public static bool IsCudaAvailable()
    {
        EnsureCpu();
        try
        {
            torch.InitializeDeviceType(DeviceType.CUDA);
            return torch.cuda.is_available();
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static void PreloadFromRuntimesFolder()
    {
        var library = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "LibTorchSharp.dll"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
        var folders = new[] { typeof(torch).Assembly.Location, typeof(TorchRuntime).Assembly.Location }
            .Where(l => !string.IsNullOrEmpty(l)).Select(Path.GetDirectoryName).OfType<string>().Distinct();
        foreach (var folder in folders)
        {
            var candidate = Path.Combine(folder, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", library);
            if (!File.Exists(candidate)) candidate = Path.Combine(folder, "runtimes", $"{(OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux")}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}", "native", library);
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out _)) return;
        }
    }

    private static string DescribeLoadFailure(Exception e)
    {
        var message = "TorchSharp's native library (LibTorchSharp) could not be loaded: " + e.Message;
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            message += " On Linux with a libstdc++ older than GLIBCXX_3.4.32 (Debian 12), DiffAutoML.ML's build step "
                + "marks that version requirement weak in the copy of libLibTorchSharp.so in your output folder. "
                + "Check that the build ran it (look for 'DiffAutoML.ML:' in a detailed build log), that "
                + "DiffAutoMLPatchTorchSharp is not set to false, and that the app runs from its build or publish "
                + "folder. See docs/torchsharp-on-debian.md.";
        }
        return message;
    }
}
