using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DiffAutoML.ML.Scoring;

/// <summary>Input of <see cref="ArgMaxMapping"/>: the class probabilities.</summary>
public sealed class ArgMaxInput
{
    /// <summary>Class probabilities (the Score column).</summary>
    public VBuffer<float> Score;
}

/// <summary>Output of <see cref="ArgMaxMapping"/>.</summary>
public sealed class ArgMaxOutput
{
    /// <summary>Index of the most probable class (0-based; the first one on ties).</summary>
    public uint DiffAutoMLPredictedIndex { get; set; }
}

/// <summary>
/// Score -> index of its largest entry. ML.NET has no public transform that turns a vector into a scalar, and ONNX
/// scalar outputs do not load in ML.NET 5.0.1, so the scoring chain uses this custom mapping for its PredictedLabel.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ArgMaxMapping : CustomMappingFactory<ArgMaxInput, ArgMaxOutput>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "DiffAutoML.ArgMax.v1";

    /// <summary>The mapping itself.</summary>
    public static void Map(ArgMaxInput input, ArgMaxOutput output)
    {
        var values = input.Score.DenseValues();
        uint best = 0, index = 0;
        float max = float.NegativeInfinity;
        foreach (var v in values)
        {
            // The network's weights are finite, so a NaN score comes from the input; without this check the row would
            // be given the first class.
            if (float.IsNaN(v))
                throw new InvalidDataException("The model's scores for an image are not numbers (NaN): the image's pixel values hold NaN or infinity " +
                    "(pixel vectors must hold unscaled values 0..255).");
            if (v > max) { max = v; best = index; }
            index++;
        }
        output.DiffAutoMLPredictedIndex = best;
    }

    /// <inheritdoc />
    public override Action<ArgMaxInput, ArgMaxOutput> GetMapping() => Map;
}
