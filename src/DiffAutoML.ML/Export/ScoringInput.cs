using DiffAutoML.ML.Data;

namespace DiffAutoML.ML.Export;

/// <summary>What the scoring chain reads: the image column as the model was trained on it.</summary>
/// <param name="ColumnName">The image column.</param>
/// <param name="Kind">How it holds images (never Auto).</param>
/// <param name="ImageFolder">Base folder of relative paths.</param>
/// <param name="Channels">Channels the network takes.</param>
/// <param name="Height">Height the network takes.</param>
/// <param name="Width">Width the network takes.</param>
/// <param name="PixelLayout">Layout of a pixel-vector column.</param>
/// <param name="PixelsAreBytes">Whether a pixel-vector column holds bytes (else Single).</param>
public sealed record ScoringInput(string ColumnName, ImageColumnKind Kind, string? ImageFolder, int Channels, int Height, int Width,
    PixelLayout PixelLayout, bool PixelsAreBytes);
