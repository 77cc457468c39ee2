using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Makes models saved by DiffAutoML.ML loadable: their scoring chain uses ML.NET custom mappings, whose code ML.NET
/// finds only in registered assemblies.
/// </summary>
public static class DiffAutoMLScoring
{
    /// <summary>The chain's ONNX output column (the class probabilities): the name is also in the bytes of every copy of
    /// the network ML.NET writes to its temp folder, by which <see cref="DisposeAtExit"/> finds the copies.</summary>
    internal const string ProbabilitiesColumn = "DiffAutoMLProbabilities";

    /// <summary>Registers this assembly with <paramref name="mlContext"/>; call it before <c>mlContext.Model.Load</c>.
    /// Unless the context asks for a GPU, it also makes the context's ONNX Runtime sessions use options that stay alive while
    /// a session is created (without them ONNX Runtime can crash, rarely), with ML.NET's default settings or those of the
    /// context's own ONNX session options; then ML.NET takes the session options from their CreateSessionOptions alone
    /// (docs/deployment.md, "ONNX Runtime's session options").</summary>
    public static MLContext RegisterDiffAutoML(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(DiffAutoMLScoring).Assembly);
        DisposeAtExit.Hook(); // chains this context loads with Model.Load: their network files are deleted at exit
        KeptOnnxSessionOptions.ApplyTo(mlContext);
        // LoadImages declares its column an image of unknown size, a type ML.NET's typed rows, and so a custom mapping,
        // read only once it is registered: RequireImageMapping reads such columns. (Registering the same pair again is allowed.)
        DataViewTypeManager.Register(new ImageDataViewType(), typeof(MLImage), new ImageTypeAttribute());
        return mlContext;
    }

    /// <summary>Registers this assembly, checks the file's parts against their recorded checksums, then loads a model
    /// saved with <c>mlContext.Model.Save</c>, with an error that says what is wrong when the file is missing,
    /// truncated, altered or not a model.</summary>
    public static ITransformer LoadDiffAutoMLModel(this MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        mlContext.RegisterDiffAutoML();
        if (!File.Exists(path)) throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        ModelFileCheck.Verify(path);
        // A context that asks for a GPU (as for training on CUDA) makes ML.NET ask ONNX Runtime for its CUDA provider, which
        // the CPU package of ONNX Runtime this assembly brings does not have: a native entry-point error, FallbackToCpu or
        // not, which read as a damaged file, and left the network's temporary copy behind. With that package the model
        // scores on the CPU, as the model Fit returns does.
        var loading = mlContext.GpuDeviceId is int device && !OnnxRuntimeHasCudaProvider(device)
            ? new MLContext { TempFilePath = mlContext.TempFilePath }.RegisterDiffAutoML()
            : mlContext;
        try
        {
            var model = loading.Model.Load(path, out inputSchema);
            if (model is IDisposable disposable) DisposeAtExit.Register(disposable); // its network's temporary file
            return model;
        }
        catch (Exception e) when (MissingAssembly(e) is string assembly)
        {
            // Not the file's fault: ML.NET found a transform whose code this application does not have.
            throw new InvalidOperationException(
                $"The model '{path}' needs the assembly '{assembly}', which this application cannot load. Reference the " +
                "DiffAutoML.ML.Scoring package (it brings ML.NET, Microsoft.ML.ImageAnalytics, Microsoft.ML.OnnxTransformer " +
                "and ONNX Runtime) rather than copying its DLL alone.", e);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw NotReadable(path, e);
        }
    }

    /// <summary>The class names of a model's Score column (its slot names), or null for a model saved before they were
    /// kept with it (2026-12-02).</summary>
    public static string[]? ClassNames(this DataViewSchema.Column scoreColumn)
    {
        if (scoreColumn.Annotations.Schema.GetColumnOrNull("SlotNames") is null) return null;
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        scoreColumn.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    /// <summary>Whether the loaded ONNX Runtime has a CUDA provider: what ML.NET asks for when a context has a
    /// GpuDeviceId. The CPU package lacks its native entry point; a GPU package with no usable GPU has it (then ML.NET's
    /// own error, or its FallbackToCpu, applies).</summary>
    internal static bool OnnxRuntimeHasCudaProvider(int deviceId)
    {
        try
        {
            using var options = Microsoft.ML.OnnxRuntime.SessionOptions.MakeSessionOptionWithCudaProvider(deviceId);
            return true;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return true;
        }
    }

    internal static InvalidDataException NotReadable(string path, Exception e)
        => new($"'{path}' is not a readable ML.NET model (truncated, altered, or written by something else): {e.Message}", e);

    /// <summary>The simple name of an assembly that failed to load somewhere in <paramref name="e"/>'s inner exceptions
    /// (ML.NET wraps it in reflection exceptions), or null.</summary>
    internal static string? MissingAssembly(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            var name = inner switch
            {
                FileNotFoundException f => f.FileName,
                FileLoadException f => f.FileName,
                _ => null,
            };
            // An assembly's display name has "Version="; a missing data file's name does not.
            if (name is not null && name.Contains("Version=", StringComparison.Ordinal)) return name.Split(',')[0].Trim();
        }
        return null;
    }
}
