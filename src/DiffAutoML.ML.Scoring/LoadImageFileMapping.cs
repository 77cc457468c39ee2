using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DiffAutoML.ML.Scoring;

/// <summary>Input of <see cref="LoadImageFileMapping"/>: an image file's path and the folder relative paths start from.</summary>
public sealed class ImageFileInput
{
    /// <summary>The path as the data gives it (the column the model was trained on is copied here).</summary>
    public string DiffAutoMLImagePath { get; set; } = "";

    /// <summary>The model's image folder, or empty for paths relative to the current folder.</summary>
    public string DiffAutoMLImageFolder { get; set; } = "";
}

/// <summary>
/// File path -> MLImage, as ML.NET's LoadImages does (folder combined with the path, the file read whole, decoded by
/// MLImage) but with errors that name the file: LoadImages says only "Invalid input stream contents" for a file it cannot
/// decode, and turns an empty path into no image, which the network then scores as a black image.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class LoadImageFileMapping : CustomMappingFactory<ImageFileInput, DecodedImageOutput>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "DiffAutoML.LoadImageFile.v1";

    /// <summary>The mapping itself.</summary>
    public static void Map(ImageFileInput input, DecodedImageOutput output)
    {
        output.ReleasePrevious();
        if (string.IsNullOrWhiteSpace(input.DiffAutoMLImagePath))
            throw new InvalidDataException("An image path is empty: every row needs the path of an image file to score.");
        var path = Path.Combine(input.DiffAutoMLImageFolder, input.DiffAutoMLImagePath);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        // Checked only on failure: checking every path first costs more than the errors are worth.
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"The image file '{path}' does not exist.", path, e);
        }
        catch (UnauthorizedAccessException e) when (Directory.Exists(path))
        {
            throw new InvalidDataException($"The image path '{path}' is a folder, not an image file.", e);
        }
        output.DiffAutoMLImage = DecodeImageMapping.Decode(bytes, $"The image file '{path}'");
    }

    /// <inheritdoc />
    public override Action<ImageFileInput, DecodedImageOutput> GetMapping() => Map;
}
