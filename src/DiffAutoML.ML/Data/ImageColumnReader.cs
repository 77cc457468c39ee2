using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Data;

/// <summary>One row's image as read from the cursor, before decoding (decoding runs in parallel later).</summary>
internal readonly record struct RawImage(byte[]? Encoded, string? Path, float[]? Pixels, Image<Rgb24>? Decoded);

/// <summary>
/// Works out what the image column holds (checking its type against <see cref="ImageDataOptions.ImageColumnKind"/>)
/// and reads one row at a time into a <see cref="RawImage"/>.
/// </summary>
internal sealed class ImageColumnReader
{
    private readonly ImageDataOptions _options;

    public ImageColumnReader(DataViewSchema schema, ImageDataOptions options)
    {
        _options = options;
        Column = SchemaChecks.FindColumn(schema, options.ImageColumnName, "image");
        (Kind, PixelShape) = Resolve(Column, options);
    }

    public DataViewSchema.Column Column { get; }

    public ImageColumnKind Kind { get; }

    /// <summary>Channels, height, width of a pixel-vector column; null for other kinds.</summary>
    public (int Channels, int Height, int Width)? PixelShape { get; }

    private static (ImageColumnKind, (int, int, int)?) Resolve(DataViewSchema.Column column, ImageDataOptions options)
    {
        var type = column.Type;
        var vector = type as VectorDataViewType;
        var kind = options.ImageColumnKind;
        if (kind == ImageColumnKind.Auto)
        {
            kind = type switch
            {
                ImageDataViewType => ImageColumnKind.MLImage,
                TextDataViewType => ImageColumnKind.Path,
                VectorDataViewType v when v.ItemType == NumberDataViewType.Single => ImageColumnKind.PixelVector,
                VectorDataViewType v when v.ItemType == NumberDataViewType.Byte && (v.IsKnownSize || options.PixelVectorShape is not null)
                    => options.PixelVectorShape is null && v.Dimensions.Length < 2 ? ImageColumnKind.EncodedBytes : ImageColumnKind.PixelVector,
                VectorDataViewType v when v.ItemType == NumberDataViewType.Byte => ImageColumnKind.EncodedBytes,
                _ => throw SchemaChecks.WrongType(column, "image",
                    "MLImage, text (an image path), Vector<Byte> (encoded image bytes) or a pixel vector (Vector<Single> or Vector<Byte>)"),
            };
        }
        switch (kind)
        {
            case ImageColumnKind.MLImage when type is not ImageDataViewType:
                throw SchemaChecks.WrongType(column, "image", "MLImage (from mlContext.Transforms.LoadImages)");
            case ImageColumnKind.Path when type is not TextDataViewType:
                throw SchemaChecks.WrongType(column, "image", "text (an image file path)");
            case ImageColumnKind.EncodedBytes when vector?.ItemType != NumberDataViewType.Byte:
                throw SchemaChecks.WrongType(column, "image", "Vector<Byte> (encoded image bytes, as from LoadRawImageBytes)");
            case ImageColumnKind.PixelVector when vector is null || (vector.ItemType != NumberDataViewType.Single && vector.ItemType != NumberDataViewType.Byte):
                throw SchemaChecks.WrongType(column, "image", "Vector<Single> or Vector<Byte> of pixel values 0..255");
            case ImageColumnKind.PixelVector:
                return (kind, PixelShapeOf(column, vector, options));
        }
        return (kind, null);
    }

    private static (int, int, int) PixelShapeOf(DataViewSchema.Column column, VectorDataViewType vector, ImageDataOptions options)
    {
        (int c, int h, int w) shape;
        if (options.PixelVectorShape is { } given) shape = given;
        else if (vector.Dimensions.Length == 3 && vector.Dimensions[0] is 1 or 3 && options.PixelVectorLayout == PixelLayout.Chw)
            shape = (vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2]);
        else if (vector.Dimensions.Length == 3 && vector.Dimensions[2] is 1 or 3 && options.PixelVectorLayout == PixelLayout.Hwc)
            shape = (vector.Dimensions[2], vector.Dimensions[0], vector.Dimensions[1]);
        else if (vector.Dimensions.Length == 2)
            shape = (1, vector.Dimensions[0], vector.Dimensions[1]);
        else
            throw new ArgumentOutOfRangeException(column.Name,
                $"The image column '{column.Name}' is a pixel vector of type {vector} whose shape is unknown: set ImageDataOptions.PixelVectorShape (channels, height, width).");
        if (vector.IsKnownSize && vector.Size != shape.c * shape.h * shape.w)
            throw new ArgumentOutOfRangeException(column.Name,
                $"The image column '{column.Name}' has {vector.Size} values per row, but PixelVectorShape {shape} needs {shape.c * shape.h * shape.w}.");
        return shape;
    }

    /// <summary>Makes a reader for the current row of <paramref name="cursor"/>.</summary>
    public Func<RawImage> CreateGetter(DataViewRowCursor cursor, ImageDecoder decoder)
    {
        switch (Kind)
        {
            case ImageColumnKind.MLImage:
            {
                var get = cursor.GetGetter<MLImage>(Column);
                MLImage image = null!;
                return () =>
                {
                    get(ref image);
                    if (image is null) throw new InvalidDataException("the image is missing");
                    // Converted now: the cursor owns the MLImage and may reuse or dispose it on the next row.
                    return new RawImage(null, null, null, decoder.FromMLImage(image));
                };
            }
            case ImageColumnKind.Path:
            {
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(Column);
                ReadOnlyMemory<char> text = default;
                return () =>
                {
                    get(ref text);
                    var path = text.ToString().Trim();
                    if (path.Length == 0) throw new InvalidDataException("the image path is empty");
                    if (!System.IO.Path.IsPathRooted(path) && _options.ImageFolder is { } folder) path = System.IO.Path.Combine(folder, path);
                    return new RawImage(null, path, null, null);
                };
            }
            case ImageColumnKind.EncodedBytes:
            {
                var get = cursor.GetGetter<VBuffer<byte>>(Column);
                VBuffer<byte> bytes = default;
                return () =>
                {
                    get(ref bytes);
                    return new RawImage(bytes.DenseValues().ToArray(), null, null, null);
                };
            }
            default:
            {
                var (c, h, w) = PixelShape!.Value;
                int length = c * h * w;
                Func<float[]> read;
                if (((VectorDataViewType)Column.Type).ItemType == NumberDataViewType.Single)
                {
                    var get = cursor.GetGetter<VBuffer<float>>(Column);
                    VBuffer<float> values = default;
                    read = () => { get(ref values); return Dense(values, length); };
                }
                else
                {
                    var get = cursor.GetGetter<VBuffer<byte>>(Column);
                    VBuffer<byte> values = default;
                    read = () => { get(ref values); return Dense(values, length).Select(b => (float)b).ToArray(); };
                }
                return () => new RawImage(null, null, read(), null);
            }
        }
    }

    private static T[] Dense<T>(VBuffer<T> values, int expected)
    {
        if (values.Length != expected)
            throw new InvalidDataException($"the pixel vector has {values.Length} values; the shape needs {expected}");
        return values.DenseValues().ToArray();
    }
}
