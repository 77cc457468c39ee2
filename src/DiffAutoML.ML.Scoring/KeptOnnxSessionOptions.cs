using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Gives the ONNX Runtime sessions ML.NET creates in a context one <see cref="SessionOptions"/> object that lives as long
/// as the process, instead of the temporary one ML.NET makes for each session.
/// </summary>
/// <remarks>
/// Why: ONNX Runtime's <c>InferenceSession</c> constructor hands the options' native handle to <c>OrtCreateSession</c>
/// and does not keep the options object alive meanwhile, and ML.NET's <c>OnnxModel</c> creates that object as a
/// temporary. A garbage collection while the session is being created (it loads and optimizes the network, which takes
/// long enough) finalizes the options and frees their native memory while ONNX Runtime still reads it: a segmentation
/// fault in libonnxruntime.so, in 2 of 17 full test runs here, and within 50-100 session creations with a thread forcing
/// collections (docs/troubleshooting.md). ML.NET uses <see cref="OnnxSessionOptions.CreateSessionOptions"/> when a context
/// sets it, and the object returned here is held by a static field, so it is never finalized. Its settings are ML.NET's
/// defaults, so sessions behave as before; one options object may serve any number of sessions (ONNX Runtime copies it).
/// </remarks>
internal static class KeptOnnxSessionOptions
{
    private static readonly object Gate = new();
    private static readonly SessionOptions Shared = Create();
    private static int _requests;

    /// <summary>How many sessions have asked for the kept options (tests read it).</summary>
    internal static int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Sets the kept options on <paramref name="mlContext"/>, unless the context already has ONNX session options of its
    /// own (the user's settings win) or asks for a GPU (ML.NET then builds CUDA options itself, which a
    /// <see cref="OnnxSessionOptions.CreateSessionOptions"/> would bypass).
    /// </summary>
    public static void ApplyTo(MLContext mlContext)
    {
        if (mlContext.GpuDeviceId is not null) return;
        lock (Gate)
        {
            IHostEnvironment environment = mlContext;
            if (environment.GetOnnxSessionOption() is not null) return;
            environment.SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = Request });
        }
    }

    private static SessionOptions Request()
    {
        Interlocked.Increment(ref _requests);
        return Shared;
    }

    private static SessionOptions Create()
    {
        // The values ML.NET copies from a default OnnxSessionOptions into the options it creates itself.
        var defaults = new OnnxSessionOptions();
        var options = new SessionOptions
        {
            EnableMemoryPattern = defaults.EnableMemoryPattern,
            ProfileOutputPathPrefix = defaults.ProfileOutputPathPrefix,
            EnableProfiling = defaults.EnableProfiling,
            OptimizedModelFilePath = defaults.OptimizedModelFilePath,
            EnableCpuMemArena = defaults.EnableCpuMemArena,
            LogId = defaults.LogId,
            LogSeverityLevel = defaults.LogSeverityLevel,
            LogVerbosityLevel = defaults.LogVerbosityLevel,
            InterOpNumThreads = defaults.InterOpNumThreads,
            IntraOpNumThreads = defaults.IntraOpNumThreads,
            GraphOptimizationLevel = defaults.GraphOptimizationLevel,
            ExecutionMode = defaults.ExecutionMode,
        };
        if (!defaults.PerSessionThreads) options.DisablePerSessionThreads();
        return options;
    }
}
