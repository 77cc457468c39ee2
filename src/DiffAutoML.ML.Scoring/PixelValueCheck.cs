namespace DiffAutoML.ML.Scoring;

/// <summary>The one rule for pixel vectors, in training (Data/ImageDecoder) and in scoring (<see cref="CheckPixelsMapping"/>).</summary>
internal static class PixelValueCheck
{
    /// <summary>What is wrong with <paramref name="values"/> as unscaled pixels, or null: a value that is NaN, infinite or
    /// outside 0..255, or values all between 0 and 1 with fractions, as ExtractPixels with scaleImage: 1/255 gives them
    /// (they would round to a black image).</summary>
    public static string? Problem(ReadOnlySpan<float> values)
    {
        float max = 0;
        bool fractional = false;
        foreach (var v in values)
        {
            if (!(v >= 0f && v <= 255f)) // also catches NaN
                return $"pixel value {v} is outside 0..255 (pixel vectors must hold unscaled values; NaN and infinity are not allowed)";
            if (v > max) max = v;
            fractional |= v != MathF.Floor(v);
        }
        return max <= 1 && fractional
            ? "the pixel values are all between 0 and 1, as if scaled: pixel vectors must hold unscaled values 0..255 (ExtractPixels without scaleImage gives them)"
            : null;
    }
}
