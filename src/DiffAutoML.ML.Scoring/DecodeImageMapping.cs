using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;

namespace DiffAutoML.ML.Scoring;

/// <summary>Input of <see cref="DecodeImageMapping"/>: encoded image bytes.</summary>
public sealed class EncodedImageInput
{
    /// <summary>PNG, JPEG, BMP... bytes (the column the model was trained on is copied here).</summary>
    public VBuffer<byte> DiffAutoMLEncodedImage;
}

/// <summary>Output of <see cref="DecodeImageMapping"/>.</summary>
public sealed class DecodedImageOutput
{
    /// <summary>The decoded image.</summary>
    /// <remarks>ImageType needs a size (its size-less form throws); 1x1 is only the declared type: the next transform,
    /// ResizeImages, reads each image's real size.</remarks>
    [ImageType(1, 1)]
    public MLImage? DiffAutoMLImage { get; set; }

    /// <summary>Disposes the image of the previous row; each mapping calls it before it makes the next one.</summary>
    /// <remarks>
    /// CustomMapping keeps one output object per cursor and fills it row after row, so the image it holds is that
    /// cursor's previous one, which ResizeImages has finished with. ResizeImages disposes its input only when the size
    /// already matches, and an image left to the garbage collector holds native memory the collector does not count
    /// (400 undisposed 2000x2000 PNG decodes held 6 GB, measured). Disposing twice is harmless.
    /// </remarks>
    internal void ReleasePrevious()
    {
        DiffAutoMLImage?.Dispose();
        DiffAutoMLImage = null;
    }
}

/// <summary>
/// Encoded bytes -> MLImage. ML.NET's LoadImages reads only files, so models trained on a column of encoded bytes use this
/// custom mapping before the usual ResizeImages / ExtractPixels.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class DecodeImageMapping : CustomMappingFactory<EncodedImageInput, DecodedImageOutput>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "DiffAutoML.DecodeImage.v1";

    /// <summary>The mapping itself.</summary>
    public static void Map(EncodedImageInput input, DecodedImageOutput output)
    {
        output.ReleasePrevious();
        var bytes = input.DiffAutoMLEncodedImage.DenseValues().ToArray();
        output.DiffAutoMLImage = Decode(bytes, "An image's bytes");
    }

    /// <summary>Decodes with MLImage (SkiaSharp), as training does; <paramref name="what"/> starts the error message.</summary>
    internal static MLImage Decode(byte[] bytes, string what)
    {
        // No image would be scored as a black image: an error says more than a confident wrong class.
        if (bytes.Length == 0) throw new InvalidDataException($"{what} is empty (0 bytes).");
        try
        {
            return MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
        }
        catch (ArgumentException e)
        {
            var start = Convert.ToHexString(bytes, 0, Math.Min(8, bytes.Length));
            throw new InvalidDataException(
                $"{what} cannot be decoded ({bytes.Length} bytes starting {start}; PNG, JPEG, BMP, GIF and WebP can): {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override Action<EncodedImageInput, DecodedImageOutput> GetMapping() => Map;
}
