namespace DiffAutoML.ML.Reporting;

/// <summary>What a search found and how it went; serializes to JSON (System.Text.Json).</summary>
public sealed record DiffAutoMLReport
{
    /// <summary>The chosen block of each layer ("k3 k5 xc ...").</summary>
    public string Architecture { get; init; } = "";

    /// <summary>Millions of multiply-adds per image.</summary>
    public double MFlops { get; init; }

    /// <summary>Trainable parameters.</summary>
    public long Parameters { get; init; }

    /// <summary>Class names in Score order.</summary>
    public IReadOnlyList<string> Classes { get; init; } = Array.Empty<string>();
}
