using DiffAutoML.ML.Data;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;

namespace DiffAutoML.ML.Export;

/// <summary>
/// Builds the ML.NET chain that Fit returns, from public ML.NET transforms only (so it saves into and loads from a
/// model zip): image column -> pixels (file loading or byte decoding / ResizeImages / ExtractPixels, or the pixel vector itself) ->
/// ApplyOnnxModel -> Score -> PredictedLabel in the user's label values. No TorchSharp at scoring time.
/// </summary>
internal static class ScoringChainBuilder
{
    public const string ImageColumn = "DiffAutoMLImage";
    public const string PixelsColumn = "DiffAutoMLPixels";
    public const string LogitsColumn = "DiffAutoMLLogits";
    public const string ProbabilitiesColumn = DiffAutoMLScoring.ProbabilitiesColumn;
    public const string IndexColumn = "DiffAutoMLPredictedIndex";
    public const string EncodedColumn = "DiffAutoMLEncodedImage";
    public const string PathColumn = "DiffAutoMLImagePath";
    public const string FolderColumn = "DiffAutoMLImageFolder";
    public const string ImageInColumn = "DiffAutoMLImageIn";
    public const string PixelsInColumn = "DiffAutoMLPixelsIn";

    /// <param name="ml">The context the chain's transforms are made in.</param>
    /// <param name="input">The image column as the model was trained on it.</param>
    /// <param name="chainOnnx">The network, with the chain's column names as input and outputs.</param>
    /// <param name="labels">The classes, for PredictedLabel.</param>
    /// <param name="imageType">For an MLImage column, its type object in the schema of the data the chain is fitted on:
    /// the check for a missing image declares it, because an estimator chain compares a custom mapping's input types by
    /// reference when it fits (an equal ImageDataViewType is refused), while a fitted or loaded chain binds the column by
    /// its raw type, MLImage, whatever its declared size.</param>
    /// <param name="onnxContext">The context ONNX Runtime's transform is made in (its TempFilePath receives the model's
    /// file); null = a new one.</param>
    public static IEstimator<ITransformer> Build(MLContext ml, ScoringInput input, byte[] chainOnnx, LabelMapping labels, DataViewType? imageType = null,
        MLContext? onnxContext = null)
    {
        ml.RegisterDiffAutoML();
        IEstimator<ITransformer> chain = input.Kind switch
        {
            // Not ML.NET's LoadImages: its errors name no file (DiffAutoML.ML.Scoring's LoadImageFileMapping).
            ImageColumnKind.Path => ml.Transforms.Expression(FolderColumn, "path => " + TextLiteral(input.ImageFolder ?? ""), input.ColumnName)
                .Append(ml.Transforms.CopyColumns(PathColumn, input.ColumnName))
                .Append(ml.Transforms.CustomMapping<ImageFileInput, DecodedImageOutput>(LoadImageFileMapping.Map, LoadImageFileMapping.ContractName))
                .Append(ImageToPixels(ml, ImageColumn, input)),
            // A missing image is an error, not zeros (DiffAutoML.ML.Scoring's RequireImageMapping).
            ImageColumnKind.MLImage => ml.Transforms.CopyColumns(ImageInColumn, input.ColumnName)
                .Append(ml.Transforms.CustomMapping<PresentImageInput, DecodedImageOutput>(RequireImageMapping.Map, RequireImageMapping.ContractName,
                    PresentImage(imageType ?? throw new ArgumentNullException(nameof(imageType), "An MLImage column needs its type."))))
                .Append(ImageToPixels(ml, ImageColumn, input)),
            ImageColumnKind.PixelVector => input.PixelsAreBytes
                ? ml.Transforms.Conversion.ConvertType(PixelsColumn, input.ColumnName, DataKind.Single)
                // Values 0..255 only, as training takes them (DiffAutoML.ML.Scoring's CheckPixelsMapping); bytes always are.
                : ml.Transforms.CopyColumns(PixelsInColumn, input.ColumnName)
                    .Append(ml.Transforms.CustomMapping<PixelVectorInput, CheckedPixelsOutput>(CheckPixelsMapping.Map, CheckPixelsMapping.ContractName,
                        PixelVector(input))),
            // ML.NET's LoadImages reads files only: bytes are decoded by a custom mapping of DiffAutoML.ML.Scoring.
            _ => ml.Transforms.CopyColumns(EncodedColumn, input.ColumnName)
                .Append(ml.Transforms.CustomMapping<EncodedImageInput, DecodedImageOutput>(DecodeImageMapping.Map, DecodeImageMapping.ContractName))
                .Append(ImageToPixels(ml, ImageColumn, input)),
        };
        // ONNX Runtime on the CPU, whatever mlContext.GpuDeviceId says: the packaged ONNX Runtime has no CUDA provider,
        // and asking for it fails with a native entry-point error rather than falling back (seen with GpuDeviceId = 0).
        onnxContext ??= new MLContext();
        KeptOnnxSessionOptions.ApplyTo(onnxContext); // (a session created with ML.NET's temporary options can crash)
        return chain
            .Append(onnxContext.Transforms.ApplyOnnxModel(new[] { ProbabilitiesColumn }, new[] { PixelsColumn }, new MemoryStream(chainOnnx)))
            .Append(ml.Transforms.CopyColumns("Score", ProbabilitiesColumn))
            .Append(ml.Transforms.CustomMapping<ArgMaxInput, ArgMaxOutput>(ArgMaxMapping.Map, ArgMaxMapping.ContractName))
            .Append(PredictedLabel(ml, labels))
            .Append(ml.Transforms.DropColumns(DroppedColumns(input)));
    }

    /// <summary>
    /// Builds the chain (<see cref="Build"/>) and fits it on <paramref name="data"/>, as a chain that owns the file ONNX
    /// Runtime reads its network from, so that disposing it (or the garbage collector) deletes that file.
    /// </summary>
    /// <remarks>
    /// ML.NET writes every ONNX model it holds to a file under the context's <see cref="MLContext.TempFilePath"/>. For a
    /// model given as a stream (ApplyOnnxModel's overload for bytes) it never deletes that file, even when the transformer
    /// is disposed: one 200-300 KB file per Fit was left in the temp folder. For a model it loads from a saved chain it
    /// opens the file delete-on-close. So the chain is fitted with its temporary files in a folder of its own, saved to
    /// memory and loaded back, and the first chain and its folder are deleted. The round trip is what a user's Save and
    /// Load do too, so the returned chain is the one a saved model loads as.
    /// </remarks>
    public static TransformerChain<ITransformer> Fit(MLContext ml, ScoringInput input, byte[] chainOnnx, LabelMapping labels, DataViewType? imageType, IDataView data)
    {
        var folder = Path.Combine(ml.TempFilePath, "diffautoml-chain-" + Path.GetRandomFileName());
        Directory.CreateDirectory(folder);
        try
        {
            var fitting = new MLContext { TempFilePath = folder };
            using var memory = new MemoryStream();
            var fitted = Build(ml, input, chainOnnx, labels, imageType, fitting).Fit(data);
            try
            {
                ml.Model.Save(fitted, null, memory); // (no input schema: the caller's may hold columns that cannot be saved)
            }
            finally
            {
                (fitted as IDisposable)?.Dispose();
            }
            memory.Position = 0;
            // A context without GpuDeviceId: ONNX Runtime runs on the CPU (see Build).
            var loading = new MLContext { TempFilePath = ml.TempFilePath }.RegisterDiffAutoML();
            var chain = (TransformerChain<ITransformer>)loading.Model.Load(memory, out _); // a saved chain loads as one
            DisposeAtExit.Register(chain); // deletes the network's temporary file at exit if the model was never disposed
            return chain;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException) { } // a file still open elsewhere (Windows) stays; nothing is lost but disk space
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Whether the chain for <paramref name="input"/> checks pixel values: its network must then be exported
    /// with an input of unknown length (<see cref="OnnxExporter"/>), the type the check's output has once loaded.</summary>
    public static bool ChecksPixelValues(ScoringInput input) => input.Kind == ImageColumnKind.PixelVector && !input.PixelsAreBytes;

    private static SchemaDefinition PixelVector(ScoringInput input)
    {
        // The column's own size while the chain is fitted (an estimator chain checks that the kinds of vector agree).
        var definition = SchemaDefinition.Create(typeof(PixelVectorInput));
        definition[nameof(PixelVectorInput.DiffAutoMLPixelsIn)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, input.Channels * input.Height * input.Width);
        return definition;
    }

    private static SchemaDefinition PresentImage(DataViewType imageType)
    {
        var definition = SchemaDefinition.Create(typeof(PresentImageInput));
        definition[nameof(PresentImageInput.DiffAutoMLImageIn)].ColumnType = imageType;
        return definition;
    }

    /// <summary>A text constant in ML.NET's expression language (the model's image folder travels in the saved chain as
    /// one: a custom mapping cannot hold settings).</summary>
    internal static string TextLiteral(string text) => "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string[] DroppedColumns(ScoringInput input) => input.Kind switch
    {
        ImageColumnKind.Path => new[] { FolderColumn, PathColumn, ImageColumn, PixelsColumn, ProbabilitiesColumn, IndexColumn },
        ImageColumnKind.EncodedBytes => new[] { EncodedColumn, ImageColumn, PixelsColumn, ProbabilitiesColumn, IndexColumn },
        ImageColumnKind.MLImage => new[] { ImageInColumn, ImageColumn, PixelsColumn, ProbabilitiesColumn, IndexColumn },
        _ when ChecksPixelValues(input) => new[] { PixelsInColumn, PixelsColumn, ProbabilitiesColumn, IndexColumn },
        _ => new[] { PixelsColumn, ProbabilitiesColumn, IndexColumn },
    };

    internal static IEstimator<ITransformer> ImageToPixels(MLContext ml, string imageColumn, ScoringInput input)
    {
        // Fill: stretched to the training size, as the training cache does; grey models read the red channel of a
        // grey-converted image.
        IEstimator<ITransformer> resize = ml.Transforms.ResizeImages(ImageColumn, input.Width, input.Height, imageColumn, ImageResizingEstimator.ResizingKind.Fill);
        if (input.Channels == 1) resize = resize.Append(ml.Transforms.ConvertToGrayscale(ImageColumn, ImageColumn));
        return resize.Append(ml.Transforms.ExtractPixels(PixelsColumn, ImageColumn,
            input.Channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
            ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false));
    }

    /// <summary>Class index -> the user's label value: a key with the label's key values when the label was a key (as
    /// ML.NET's own trainers do), else a value of the label's own type.</summary>
    private static IEstimator<ITransformer> PredictedLabel(MLContext ml, LabelMapping labels)
    {
        uint[] indices = Enumerable.Range(0, labels.ClassCount).Select(i => (uint)i).ToArray();
        IEnumerable<KeyValuePair<uint, T>> Pairs<T>(Func<string, T> parse) => indices.Select(i => new KeyValuePair<uint, T>(i, parse(labels.CanonicalValues[(int)i])));
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (labels.Kind == LabelKind.Key)
            return ml.Transforms.Conversion.MapValue("PredictedLabel", indices.Select(i => new KeyValuePair<uint, string>(i, labels.ClassNames[(int)i])), IndexColumn, treatValuesAsKeyType: true);
        if (labels.Kind == LabelKind.Text)
            return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => s), IndexColumn);
        if (labels.Kind == LabelKind.Boolean)
            return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(bool.Parse), IndexColumn);
        var raw = labels.ValueType.RawType;
        if (raw == typeof(float)) return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => float.Parse(s, inv)), IndexColumn);
        if (raw == typeof(double)) return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => double.Parse(s, inv)), IndexColumn);
        if (raw == typeof(int)) return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => int.Parse(s, inv)), IndexColumn);
        if (raw == typeof(long)) return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => long.Parse(s, inv)), IndexColumn);
        if (raw == typeof(uint)) return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => uint.Parse(s, inv)), IndexColumn);
        // Other numeric types come back as double.
        return ml.Transforms.Conversion.MapValue("PredictedLabel", Pairs(s => double.Parse(s, inv)), IndexColumn);
    }
}
