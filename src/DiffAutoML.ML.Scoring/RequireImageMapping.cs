using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;

namespace DiffAutoML.ML.Scoring;

/// <summary>Input of <see cref="RequireImageMapping"/>: an image (the image column the model was trained on is copied here).</summary>
public sealed class PresentImageInput
{
    /// <summary>The image, or null where there is none.</summary>
    /// <remarks>1x1 is only the declared type (its size-less form throws): a column binds by its raw type, MLImage.</remarks>
    [ImageType(1, 1)]
    public MLImage? DiffAutoMLImageIn { get; set; }
}

/// <summary>
/// Passes a copy of an image on, or throws where there is none. Why the check: ML.NET's LoadImages gives no image (null)
/// for an empty path, and ResizeImages then either yields nothing, which the network would score as a black image, or
/// fails with an unrelated "Object is disposed" in a PredictionEngine that scored an image before. Why the copy:
/// ResizeImages disposes an input that already has the target size when it moves to the next row, which would destroy
/// the caller's own image (the same image could not be scored twice, nor used after scoring).
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class RequireImageMapping : CustomMappingFactory<PresentImageInput, DecodedImageOutput>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "DiffAutoML.RequireImage.v1";

    /// <summary>The mapping itself.</summary>
    public static void Map(PresentImageInput input, DecodedImageOutput output)
    {
        output.ReleasePrevious();
        var image = input.DiffAutoMLImageIn ?? throw new InvalidDataException(
            "An image to score is missing (null) in the model's image column; ML.NET's LoadImages gives none for an empty path.");
        // MLImage holds only 32-bit BGRA or RGBA pixels, which CreateFromPixels takes back as they are.
        var copy = MLImage.CreateFromPixels(image.Width, image.Height, image.PixelFormat, image.Pixels);
        copy.Tag = image.Tag;
        output.DiffAutoMLImage = copy;
    }

    /// <inheritdoc />
    public override Action<PresentImageInput, DecodedImageOutput> GetMapping() => Map;
}
