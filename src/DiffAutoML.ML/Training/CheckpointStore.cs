using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffAutoML.ML.Training;

/// <summary>
/// One checkpoint file per folder, written atomically (aside, flushed, renamed) and sealed with a SHA-256 of its
/// content, so that a run killed at any moment leaves either the previous or the new checkpoint, and a damaged file
/// is detected instead of used.
/// </summary>
internal sealed class CheckpointStore
{
    private static readonly byte[] Magic = "DIFFAUTOML-CKPT-1"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public CheckpointStore(string folder)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
    }

    public string Folder { get; }

    public string FilePath => Path.Combine(Folder, "checkpoint.bin");

    public bool Exists => File.Exists(FilePath);

    public void Save(CheckpointHeader header, Action<BinaryWriter> writeTensors)
    {
        using var content = new MemoryStream();
        using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(JsonSerializer.Serialize(header, Json));
            writeTensors(writer);
        }
        content.Write(SHA256.HashData(content.GetBuffer().AsSpan(0, (int)content.Length)));
        IO.AtomicFile.WriteAllBytes(FilePath, content.GetBuffer().AsSpan(0, (int)content.Length));
    }

    /// <summary>Reads and verifies the checkpoint; the reader is positioned at the tensors.</summary>
    public (CheckpointHeader Header, BinaryReader Tensors) Load()
    {
        var bytes = File.ReadAllBytes(FilePath);
        if (bytes.Length < Magic.Length + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw Corrupt("it is not a DiffAutoML checkpoint or is truncated");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw Corrupt("its checksum does not match (the file was damaged or only partly written)");
        var reader = new BinaryReader(new MemoryStream(bytes, 0, bytes.Length - 32), Encoding.UTF8);
        reader.ReadBytes(Magic.Length);
        var header = JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadString(), Json) ?? throw Corrupt("its header is empty");
        return (header, reader);
    }

    private InvalidDataException Corrupt(string why) => new(
        $"The checkpoint '{FilePath}' cannot be used: {why}. Delete it (or choose another CheckpointFolder) to start the search again.");
}
