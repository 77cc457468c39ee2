using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Gives the ONNX Runtime sessions ML.NET creates in a context <see cref="SessionOptions"/> objects that live as long as
/// the process, instead of the temporary one ML.NET makes for each session.
/// </summary>
/// <remarks>
/// Why: ONNX Runtime's <c>InferenceSession</c> constructor hands the options' native handle to <c>OrtCreateSession</c>
/// and does not keep the options object alive meanwhile, and ML.NET's <c>OnnxModel</c> creates that object as a
/// temporary. A garbage collection while the session is being created (it loads and optimizes the network, which takes
/// long enough) finalizes the options and frees their native memory while ONNX Runtime still reads it: a segmentation
/// fault in libonnxruntime.so, in 2 of 17 full test runs here, and within 50-100 session creations with a thread forcing
/// collections (docs/troubleshooting.md). ML.NET uses <see cref="OnnxSessionOptions.CreateSessionOptions"/> when a context
/// sets it, and the objects returned here are held by a static table, so they are never finalized. Each is built from an
/// <see cref="OnnxSessionOptions"/>'s settings exactly as ML.NET builds its temporary one, so sessions behave as before;
/// one options object may serve any number of sessions (ONNX Runtime copies it).
/// </remarks>
internal static class KeptOnnxSessionOptions
{
    private static readonly object Gate = new();
    // One entry per distinct combination of settings a process uses: a handful at most.
    private static readonly Dictionary<Settings, SessionOptions> Kept = new();
    private static int _requests;

    /// <summary>The settings ML.NET copies from an <see cref="OnnxSessionOptions"/> into a session's options
    /// (<c>OnnxSessionOptions.CopyTo</c> in ML.NET 5.0.1); the three ONNX Runtime enums as their numbers.</summary>
    private readonly record struct Settings(
        bool EnableMemoryPattern, string ProfileOutputPathPrefix, bool EnableProfiling, string OptimizedModelFilePath,
        bool EnableCpuMemArena, bool PerSessionThreads, string LogId, int LogSeverityLevel, int LogVerbosityLevel,
        int InterOpNumThreads, int IntraOpNumThreads, int GraphOptimizationLevel, int ExecutionMode)
    {
        public static Settings Of(OnnxSessionOptions o) => new(
            o.EnableMemoryPattern, o.ProfileOutputPathPrefix, o.EnableProfiling, o.OptimizedModelFilePath, o.EnableCpuMemArena,
            o.PerSessionThreads, o.LogId, EnumMember(o, nameof(OnnxSessionOptions.LogSeverityLevel)), o.LogVerbosityLevel,
            o.InterOpNumThreads, o.IntraOpNumThreads, EnumMember(o, nameof(OnnxSessionOptions.GraphOptimizationLevel)),
            EnumMember(o, nameof(OnnxSessionOptions.ExecutionMode)));

        /// <summary>
        /// Reads an ONNX Runtime enum member of ML.NET's options by reflection. Why: a host that loads assemblies by path
        /// (a .NET Interactive notebook) can load ONNX Runtime's assembly twice, and then this assembly's enum types are
        /// not those of ML.NET's members: reading them directly failed with "Field not found: ...LogSeverityLevel"
        /// (NotebookTests). Their numbers are the same in both copies.
        /// </summary>
        private static int EnumMember(OnnxSessionOptions o, string name)
        {
            var type = typeof(OnnxSessionOptions);
            object? value = type.GetField(name)?.GetValue(o) ?? type.GetProperty(name)?.GetValue(o)
                ?? throw new MissingMemberException(type.FullName, name);
            return Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>How many sessions have asked for kept options (tests read it).</summary>
    internal static int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Makes the sessions of <paramref name="mlContext"/> use kept options. A context without ONNX session options gets
    /// options with ML.NET's default settings. A context with options of its own but no
    /// <see cref="OnnxSessionOptions.CreateSessionOptions"/> gets one filled in, which returns kept options built from
    /// that object's settings as they are when a session is created, so later changes to it still apply. Left alone: a
    /// context whose options already have a <see cref="OnnxSessionOptions.CreateSessionOptions"/> (the user's own), and a
    /// context that asks for a GPU (ML.NET then builds CUDA options itself, which a CreateSessionOptions would bypass).
    /// </summary>
    public static void ApplyTo(MLContext mlContext)
    {
        if (mlContext.GpuDeviceId is not null) return;
        lock (Gate)
        {
            IHostEnvironment environment = mlContext;
            var options = environment.GetOnnxSessionOption();
            if (options is null)
            {
                options = new OnnxSessionOptions();
                environment.SetOnnxSessionOption(options);
            }
            if (options.CreateSessionOptions is not null) return;
            options.CreateSessionOptions = () => For(options);
        }
    }

    /// <summary>The kept options for <paramref name="settings"/>' current values (the same object for the same values).</summary>
    internal static SessionOptions For(OnnxSessionOptions settings)
    {
        Interlocked.Increment(ref _requests);
        var key = Settings.Of(settings);
        lock (Gate)
        {
            if (!Kept.TryGetValue(key, out var kept)) Kept.Add(key, kept = Create(key));
            return kept;
        }
    }

    private static SessionOptions Create(Settings s)
    {
        var options = new SessionOptions
        {
            EnableMemoryPattern = s.EnableMemoryPattern,
            ProfileOutputPathPrefix = s.ProfileOutputPathPrefix,
            EnableProfiling = s.EnableProfiling,
            OptimizedModelFilePath = s.OptimizedModelFilePath,
            EnableCpuMemArena = s.EnableCpuMemArena,
            LogId = s.LogId,
            LogSeverityLevel = (OrtLoggingLevel)s.LogSeverityLevel,
            LogVerbosityLevel = s.LogVerbosityLevel,
            InterOpNumThreads = s.InterOpNumThreads,
            IntraOpNumThreads = s.IntraOpNumThreads,
            GraphOptimizationLevel = (GraphOptimizationLevel)s.GraphOptimizationLevel,
            ExecutionMode = (ExecutionMode)s.ExecutionMode,
        };
        if (!s.PerSessionThreads) options.DisablePerSessionThreads();
        return options;
    }
}
