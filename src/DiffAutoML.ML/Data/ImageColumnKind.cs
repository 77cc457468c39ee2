namespace DiffAutoML.ML.Data;

/// <summary>How the image column of an <see cref="Microsoft.ML.IDataView"/> holds its images.</summary>
public enum ImageColumnKind
{
    /// <summary>Decided from the column type: MLImage, text (a path), a variable-size byte vector (encoded bytes),
    /// or a known-size vector (pixels).</summary>
    Auto,
    /// <summary><c>MLImage</c>, as produced by <c>mlContext.Transforms.LoadImages</c>.</summary>
    MLImage,
    /// <summary>Encoded image bytes (PNG, JPEG, BMP, GIF, WebP) in a <c>VBuffer&lt;byte&gt;</c>, as from <c>LoadRawImageBytes</c>.</summary>
    EncodedBytes,
    /// <summary>A file path (text), relative paths resolved against <see cref="ImageDataOptions.ImageFolder"/>.</summary>
    Path,
    /// <summary>Pixel values in a <c>VBuffer&lt;float&gt;</c> or <c>VBuffer&lt;byte&gt;</c>, values 0 to 255.</summary>
    PixelVector,
}
