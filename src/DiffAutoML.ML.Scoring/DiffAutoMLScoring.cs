using Microsoft.ML;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Makes models saved by DiffAutoML.ML loadable: their scoring chain uses ML.NET custom mappings, whose code ML.NET
/// finds only in registered assemblies.
/// </summary>
public static class DiffAutoMLScoring
{
    /// <summary>Registers this assembly with <paramref name="mlContext"/>; call it before <c>mlContext.Model.Load</c>.</summary>
    public static MLContext RegisterDiffAutoML(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(DiffAutoMLScoring).Assembly);
        return mlContext;
    }

    /// <summary>Registers this assembly, then loads a model saved with <c>mlContext.Model.Save</c>, with an error that
    /// says what is wrong when the file is missing, truncated or not a model.</summary>
    public static ITransformer LoadDiffAutoMLModel(this MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        mlContext.RegisterDiffAutoML();
        if (!File.Exists(path)) throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        try
        {
            return mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new InvalidDataException($"'{path}' is not a readable ML.NET model (truncated, altered, or written by something else): {e.Message}", e);
        }
    }
}
