namespace DiffAutoML.ML.Data;

/// <summary>A row of the input data could not be turned into a training image or label.</summary>
/// <remarks>The message names the column, the row and, where there is one, the file.</remarks>
public sealed class ImageDataException : Exception
{
    /// <summary>Creates the exception; the message is built from the parts.</summary>
    public ImageDataException(string columnName, long row, string? filePath, string problem, Exception? inner = null)
        : base(Describe(columnName, row, filePath, problem), inner)
    {
        ColumnName = columnName;
        Row = row;
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The column whose value was bad.</summary>
    public string ColumnName { get; }

    /// <summary>Zero-based row index in the input IDataView.</summary>
    public long Row { get; }

    /// <summary>The image file, when the value was a path.</summary>
    public string? FilePath { get; }

    /// <summary>What was wrong, without the location.</summary>
    public string Problem { get; }

    private static string Describe(string column, long row, string? file, string problem)
        => $"Column '{column}', row {row}{(file is null ? "" : $", file '{file}'")}: {problem}";
}
