namespace DiffAutoML.ML.IO;

/// <summary>Writes files so that a crash leaves either the old file or the new one, never half of one.</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> beside <paramref name="path"/>, flushes it to disk, then renames it over the target.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
