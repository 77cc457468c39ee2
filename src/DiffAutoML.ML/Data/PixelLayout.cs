namespace DiffAutoML.ML.Data;

/// <summary>Order of the values in a pixel-vector image column.</summary>
public enum PixelLayout
{
    /// <summary>Channel-major: all of channel 0, then channel 1, ... (ML.NET's ExtractPixels default).</summary>
    Chw,
    /// <summary>Interleaved: the channels of pixel 0, then of pixel 1, ...</summary>
    Hwc,
}
