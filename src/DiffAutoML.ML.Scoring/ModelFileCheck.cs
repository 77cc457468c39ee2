using System.IO.Compression;
using System.IO.Hashing;

namespace DiffAutoML.ML.Scoring;

/// <summary>
/// Checks a model file's parts against the CRC-32 its zip directory records. Why: ML.NET reads each part by length and
/// stops before its end, where .NET would compare the checksum, so a model whose ONNX weights were altered on disk
/// would load and score wrong without an error.
/// </summary>
internal static class ModelFileCheck
{
    /// <summary>Throws <see cref="InvalidDataException"/> naming the file (and the damaged part, when one is).</summary>
    public static void Verify(string path)
    {
        string? damaged;
        try
        {
            damaged = FirstDamagedPart(path);
        }
        catch (InvalidDataException e)
        {
            throw DiffAutoMLScoring.NotReadable(path, e);
        }
        if (damaged is not null)
            throw new InvalidDataException($"The model file '{path}' is damaged: its part '{damaged}' does not match the checksum the file records (altered or partly overwritten).");
    }

    private static string? FirstDamagedPart(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var buffer = new byte[81920];
        foreach (var entry in zip.Entries)
        {
            var crc = new Crc32();
            using (var stream = entry.Open())
            {
                int read;
                while ((read = stream.Read(buffer, 0, buffer.Length)) > 0) crc.Append(buffer.AsSpan(0, read));
            }
            if (crc.GetCurrentHashAsUInt32() != entry.Crc32) return entry.FullName;
        }
        return null;
    }
}
