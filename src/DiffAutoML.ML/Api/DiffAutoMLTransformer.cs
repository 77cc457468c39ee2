using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Reporting;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Api;

/// <summary>
/// The ready-to-deploy model that <c>DiffAutoMLEstimator.Fit</c> returns: an ML.NET chain (image transforms,
/// the searched network as ONNX, Score and PredictedLabel) plus the search report. Use it like any ML.NET transformer:
/// in pipelines, with <c>PredictionEngine</c>, and with <c>mlContext.Model.Save</c> (the file then loads as that
/// chain, needing only ML.NET, ONNX Runtime and DiffAutoML.ML.Scoring: call <c>mlContext.RegisterDiffAutoML()</c>
/// or <c>mlContext.LoadDiffAutoMLModel(...)</c> before loading). Dispose it when done: that frees ONNX Runtime's session
/// and deletes the temporary file ML.NET keeps the network in (the garbage collector deletes it otherwise, but not at
/// process exit).
/// </summary>
public sealed class DiffAutoMLTransformer : ITransformer, ICanSaveModel, IDisposable
{
    private readonly MLContext _mlContext;
    private readonly ITransformer _chain;
    private readonly byte[] _onnx;

    internal DiffAutoMLTransformer(MLContext mlContext, ITransformer chain, byte[] standaloneOnnx, LabelMapping labels, ScoringInput input, DiffAutoMLReport report)
    {
        _mlContext = mlContext;
        _chain = chain;
        _onnx = standaloneOnnx;
        Labels = labels;
        Input = input;
        Report = report;
    }

    /// <summary>What the search found and how it went.</summary>
    public DiffAutoMLReport Report { get; }

    /// <summary>The classes, in the order of the Score vector.</summary>
    public LabelMapping Labels { get; }

    /// <summary>The image column the model reads and how.</summary>
    public ScoringInput Input { get; }

    /// <summary>The inner ML.NET chain (what a saved model loads back as).</summary>
    public ITransformer Chain => _chain;

    /// <summary>The network as a standalone ONNX model: input "pixels" float [N, C*H*W] (0..255), outputs "logits"
    /// and "probabilities" [N, classes]; the class names, input shape and pixel layout are in its metadata
    /// (<see cref="Export.OnnxExporter.ClassesKey"/> and the keys beside it).</summary>
    public ReadOnlyMemory<byte> OnnxModel => _onnx;

    /// <summary>Writes the standalone ONNX model to <paramref name="path"/> (atomically), for use outside .NET.</summary>
    public void SaveOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        IO.AtomicFile.WriteAllBytes(path, _onnx);
    }

    /// <summary>
    /// Scores <paramref name="data"/> and evaluates it against its label column, mapping the labels to this model's class
    /// order first (which <c>mlContext.MulticlassClassification.Evaluate</c> needs; see docs/deployment.md).
    /// </summary>
    public MulticlassClassificationMetrics Evaluate(IDataView data, string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(data);
        const string index = "DiffAutoMLLabelIndex";
        var column = data.Schema.GetColumnOrNull(labelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(labelColumnName), $"The label column '{labelColumnName}' is not in the data.");
        IDataView scored = Transform(data);
        if (Labels.Kind == LabelKind.Key)
        {
            if (column.Type is not KeyDataViewType key || key.Count != (ulong)Labels.ClassCount)
                throw new ArgumentOutOfRangeException(nameof(labelColumnName), $"The label column '{labelColumnName}' must be a key type with {Labels.ClassCount} values, as in training; it is {column.Type}.");
            return WithImageErrorsUnwrapped(() => _mlContext.MulticlassClassification.Evaluate(scored, labelColumnName));
        }
        ThrowOnUnknownLabels(data, labelColumnName);
        var reader = LabelColumnIndex(scored, labelColumnName, index);
        return WithImageErrorsUnwrapped(() => _mlContext.MulticlassClassification.Evaluate(reader, index));
    }

    /// <summary>A label the model has no class for would become a missing label, which ML.NET's evaluator skips: the
    /// metrics would leave those rows out without a word. Missing labels (empty text, NaN) are skipped, as ML.NET does.
    /// Reads the label column alone (no image is decoded).</summary>
    private void ThrowOnUnknownLabels(IDataView data, string labelColumnName)
    {
        var reader = new LabelColumnReader(data.Schema, labelColumnName);
        using var cursor = data.GetRowCursor(new[] { reader.Column });
        var getLabel = reader.CreateGetter(cursor);
        while (cursor.MoveNext())
        {
            if (getLabel() is string label && !Labels.TryGetIndex(label, out _))
                throw new ImageDataException(labelColumnName, cursor.Position, null,
                    $"the label '{label}' is not one of the model's classes ({string.Join(", ", Labels.ClassNames.Take(20))}{(Labels.ClassCount > 20 ? ", ..." : "")})");
        }
    }

    /// <summary>ML.NET's parallel cursors wrap every error as "Splitter/consolidator worker encountered exception ...";
    /// the scoring chain's own error about an image (which names the file) is the useful part, so it is thrown as is.</summary>
    private static T WithImageErrorsUnwrapped<T>(Func<T> evaluate)
    {
        try
        {
            return evaluate();
        }
        catch (InvalidOperationException e) when (e.InnerException is InvalidDataException or FileNotFoundException)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    private IDataView LabelColumnIndex(IDataView scored, string labelColumnName, string index)
    {
        // Text, number or boolean labels -> class index as Single (Evaluate takes Single labels as class indices).
        var pairs = Labels.CanonicalValues.Select((value, i) => new KeyValuePair<string, float>(value, i)).ToArray();
        var asText = "DiffAutoMLLabelText";
        var pipeline = scored.Schema[labelColumnName].Type is TextDataViewType
            ? (IEstimator<ITransformer>)_mlContext.Transforms.CopyColumns(asText, labelColumnName)
            : _mlContext.Transforms.Conversion.ConvertType(asText, labelColumnName, DataKind.String);
        return pipeline.Append(_mlContext.Transforms.Conversion.MapValue(index, pairs, asText)).Fit(scored).Transform(scored);
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => _chain.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _chain.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    /// <summary>Frees the chain's ONNX Runtime session and deletes its temporary model file; the model cannot score after
    /// this.</summary>
    public void Dispose() => (_chain as IDisposable)?.Dispose();

    /// <summary>Saves the inner chain: the file loads back as that chain.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);
}
