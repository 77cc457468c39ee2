using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DiffAutoML.ML.Scoring;

/// <summary>Input of <see cref="CheckPixelsMapping"/>: a pixel vector (the column the model was trained on is copied here).</summary>
public sealed class PixelVectorInput
{
    /// <summary>Pixel values, unscaled (0..255).</summary>
    public VBuffer<float> DiffAutoMLPixelsIn;
}

/// <summary>Output of <see cref="CheckPixelsMapping"/>: the same values, checked.</summary>
public sealed class CheckedPixelsOutput
{
    /// <summary>The pixel values the network scores.</summary>
    /// <remarks>A vector of unknown size once a model is loaded (a custom mapping cannot store its column types), which
    /// is why the network of such a chain declares an input of unknown length.</remarks>
    public VBuffer<float> DiffAutoMLPixels;
}

/// <summary>
/// Passes a pixel vector on, or throws where it cannot hold the pixels of an image, by the rule training applies
/// (values 0..255, not NaN or infinite, not scaled to 0..1). Without it scoring gave such rows the first class (NaN
/// scores) or the confident scores of another image.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class CheckPixelsMapping : CustomMappingFactory<PixelVectorInput, CheckedPixelsOutput>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "DiffAutoML.CheckPixels.v1";

    /// <summary>The mapping itself.</summary>
    public static void Map(PixelVectorInput input, CheckedPixelsOutput output)
    {
        var values = input.DiffAutoMLPixelsIn.DenseValues().ToArray();
        if (PixelValueCheck.Problem(values) is { } problem)
            throw new InvalidDataException($"An image to score cannot be read: {problem}.");
        output.DiffAutoMLPixels = new VBuffer<float>(values.Length, values);
    }

    /// <inheritdoc />
    public override Action<PixelVectorInput, CheckedPixelsOutput> GetMapping() => Map;
}
