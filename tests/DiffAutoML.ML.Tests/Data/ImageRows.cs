namespace DiffAutoML.ML.Tests.Data;

/// <summary>An in-memory row of encoded image bytes and a label, for building IDataViews in tests.</summary>
internal sealed class BytesRow
{
    public byte[] Image { get; set; } = Array.Empty<byte>();
    public string Label { get; set; } = "";
}

/// <summary>An in-memory row of an image file path and a label, for building IDataViews in tests.</summary>
internal sealed class PathRow
{
    public string Image { get; set; } = "";
    public string Label { get; set; } = "";
}
