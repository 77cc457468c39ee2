using System.Runtime.InteropServices;

namespace DiffAutoML.ML.Native;

/// <summary>
/// A boolean setting of libtorch's global context (<c>at::globalContext()</c>) that TorchSharp 0.107 has no binding for,
/// reached through libtorch's exported C++ symbols on Linux x64 (the names are the Itanium ABI's). Where a symbol is
/// absent (another platform or libtorch) the flag cannot be read or set, and callers are told so.
/// </summary>
internal sealed class LibtorchContextFlag
{
    /// <summary>
    /// libtorch's NNPACK convolutions: what PyTorch users turn off with <c>torch.backends.nnpack.set_flags(False)</c>.
    /// </summary>
    /// <remarks>
    /// Why the library turns it off: on a CPU that NNPACK does not support (these machines), libtorch 2.10 asks whether
    /// NNPACK is available for every convolution it cannot hand to oneDNN (one torch thread and a batch under 16: the
    /// hypergradient's validation batch at training batches under 64) and prints "Could not initialize NNPACK! Reason:
    /// Unsupported hardware." each time: 7,660 lines on stderr for one epoch of the shipped subset at
    /// <c>--threads 1 --batch 32</c>. With NNPACK off that question is never asked. Where NNPACK is unsupported this
    /// changes nothing else; where it is supported, the few convolutions it would have taken (batches of 16 or more that
    /// oneDNN does not take) run on libtorch's own kernels.
    /// </remarks>
    public static readonly LibtorchContextFlag Nnpack = new("_ZN2at7Context20setUserEnabledNNPACKEb", "_ZNK2at7Context17userEnabledNNPACKEv");

    /// <summary>
    /// cuDNN's benchmark mode, PyTorch's <c>torch.backends.cudnn.benchmark</c>: the first convolution of each new shape
    /// times cuDNN's algorithms and later ones use the fastest. Only CUDA convolutions read it.
    /// </summary>
    public static readonly LibtorchContextFlag CudnnBenchmark = new("_ZN2at7Context17setBenchmarkCuDNNEb", "_ZNK2at7Context14benchmarkCuDNNEv");

    private const string Library = "libtorch_cpu.so";
    private const string GlobalContext = "_ZN2at13globalContextEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextFunction();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFlagFunction(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFlagFunction(IntPtr context);

    private readonly Lazy<(IntPtr Context, SetFlagFunction Set, GetFlagFunction Get)?> _resolved;

    // Resolved once, at first use (after libtorch is loaded): the context and the functions do not move.
    private LibtorchContextFlag(string setter, string getter) => _resolved = new(() => Resolve(setter, getter));

    /// <summary>Sets the flag once libtorch is loaded; false where it cannot be reached.</summary>
    public bool TrySet(bool enabled)
    {
        if (_resolved.Value is not var (context, set, _)) return false;
        set(context, enabled);
        return true;
    }

    /// <summary>The flag's value; null where it cannot be read.</summary>
    public bool? Get() => _resolved.Value is var (context, _, get) ? get(context) : null;

    private static (IntPtr, SetFlagFunction, GetFlagFunction)? Resolve(string setter, string getter)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        // By its soname: the libtorch already loaded for TorchSharp (the CPU package's or a PyTorch folder's), never a new one.
        if (!NativeLibrary.TryLoad(Library, out var handle)) return null;
        if (!NativeLibrary.TryGetExport(handle, GlobalContext, out var contextAddress)
            || !NativeLibrary.TryGetExport(handle, setter, out var setAddress)
            || !NativeLibrary.TryGetExport(handle, getter, out var getAddress)) return null;
        var context = Marshal.GetDelegateForFunctionPointer<ContextFunction>(contextAddress)();
        if (context == IntPtr.Zero) return null;
        return (context, Marshal.GetDelegateForFunctionPointer<SetFlagFunction>(setAddress), Marshal.GetDelegateForFunctionPointer<GetFlagFunction>(getAddress));
    }
}
