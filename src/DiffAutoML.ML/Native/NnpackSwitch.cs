using System.Runtime.InteropServices;

namespace DiffAutoML.ML.Native;

/// <summary>
/// Turns off libtorch's NNPACK convolutions, what PyTorch users do with <c>torch.backends.nnpack.set_flags(False)</c>
/// (TorchSharp 0.107 has no binding for it).
/// </summary>
/// <remarks>
/// Why: on a CPU that NNPACK does not support (these machines), libtorch 2.10 asks whether NNPACK is available for
/// every convolution it cannot hand to oneDNN (one torch thread and a batch under 16: the hypergradient's validation
/// batch at training batches under 64) and prints "Could not initialize NNPACK! Reason: Unsupported hardware." each
/// time: 7,660 lines on stderr for one epoch of the shipped subset at <c>--threads 1 --batch 32</c>. With NNPACK off
/// that question is never asked. Where NNPACK is unsupported this changes nothing else; where it is supported, the few
/// convolutions it would have taken (batches of 16 or more that oneDNN does not take) run on libtorch's own kernels.
/// The flag is libtorch's <c>at::Context::setUserEnabledNNPACK</c>, reached through its exported C++ symbol on Linux
/// x64 (the names are the Itanium ABI's); where the symbol is absent (another platform or libtorch) nothing is changed.
/// </remarks>
internal static class NnpackSwitch
{
    private const string Library = "libtorch_cpu.so";
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetEnabled = "_ZN2at7Context20setUserEnabledNNPACKEb";
    private const string GetEnabled = "_ZNK2at7Context17userEnabledNNPACKEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextFunction();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFlagFunction(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFlagFunction(IntPtr context);

    /// <summary>Turns NNPACK off once libtorch is loaded; false where the flag cannot be reached.</summary>
    public static bool TryDisable()
    {
        if (!TryResolve(out var context, out var set, out _)) return false;
        set!(context, false);
        return true;
    }

    /// <summary>libtorch's NNPACK flag; null where it cannot be read.</summary>
    public static bool? IsEnabled() => TryResolve(out var context, out _, out var get) ? get!(context) : null;

    private static bool TryResolve(out IntPtr context, out SetFlagFunction? set, out GetFlagFunction? get)
    {
        (context, set, get) = (IntPtr.Zero, null, null);
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return false;
        // By its soname: the libtorch already loaded for TorchSharp (the CPU package's or a PyTorch folder's), never a new one.
        if (!NativeLibrary.TryLoad(Library, out var handle)) return false;
        if (!NativeLibrary.TryGetExport(handle, GlobalContext, out var contextAddress)
            || !NativeLibrary.TryGetExport(handle, SetEnabled, out var setAddress)
            || !NativeLibrary.TryGetExport(handle, GetEnabled, out var getAddress)) return false;
        context = Marshal.GetDelegateForFunctionPointer<ContextFunction>(contextAddress)();
        set = Marshal.GetDelegateForFunctionPointer<SetFlagFunction>(setAddress);
        get = Marshal.GetDelegateForFunctionPointer<GetFlagFunction>(getAddress);
        return context != IntPtr.Zero;
    }
}
