using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Reads the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed) into an IDataView with columns
/// Image (Vector&lt;Byte&gt; [1, H, W], pixel values) and Label (text: the class name, or the class number).
/// </summary>
public static class IdxDataset
{
    /// <summary>Fashion-MNIST's class names, in label order.</summary>
    public static readonly IReadOnlyList<string> FashionMnistClassNames =
        new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>Images and labels as read from IDX files.</summary>
    public sealed record Content(byte[] Pixels, byte[] Labels, int Count, int Height, int Width);

    private sealed class Row
    {
        public byte[] Image { get; set; } = Array.Empty<byte>();
        public string Label { get; set; } = "";
    }

    /// <summary>Loads an images file and a labels file as an IDataView (Image, Label).</summary>
    public static IDataView Load(MLContext mlContext, string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return ToDataView(mlContext, Read(imagesPath, labelsPath), classNames, $"IDX labels file '{labelsPath}'");
    }

    /// <summary>Images and labels already in memory as an IDataView (Image, Label); <paramref name="source"/> names them in
    /// errors.</summary>
    internal static IDataView ToDataView(MLContext mlContext, Content content, IReadOnlyList<string>? classNames, string source)
    {
        int size = content.Height * content.Width;
        var rows = new Row[content.Count];
        for (int i = 0; i < content.Count; i++)
        {
            int label = content.Labels[i];
            if (classNames is not null && label >= classNames.Count)
                throw new InvalidDataException($"{source}, item {i}: label {label} has no class name ({classNames.Count} names given).");
            rows[i] = new Row
            {
                Image = content.Pixels.AsSpan(i * size, size).ToArray(),
                Label = classNames is null ? label.ToString(System.Globalization.CultureInfo.InvariantCulture) : classNames[label],
            };
        }
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, 1, content.Height, content.Width);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>Reads and checks an IDX images file (magic 2051) and labels file (magic 2049).</summary>
    public static Content Read(string imagesPath, string labelsPath)
    {
        var images = ReadAll(imagesPath);
        var labels = ReadAll(labelsPath);
        if (images.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(images) != 2051)
            throw new InvalidDataException($"'{imagesPath}' is not an IDX images file (expected magic number 2051 in a 16-byte header).");
        if (labels.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labels) != 2049)
            throw new InvalidDataException($"'{labelsPath}' is not an IDX labels file (expected magic number 2049 in an 8-byte header).");
        int count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        int height = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        int width = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        int labelCount = BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4));
        if (count < 0 || height <= 0 || width <= 0 || (long)height * width > 1 << 24)
            throw new InvalidDataException($"'{imagesPath}' has an invalid header: {count} images of {height}x{width}.");
        if (labelCount != count)
            throw new InvalidDataException($"'{imagesPath}' holds {count} images but '{labelsPath}' holds {labelCount} labels.");
        long expected = 16 + (long)count * height * width;
        if (images.Length != expected)
            throw new InvalidDataException($"'{imagesPath}' is {images.Length} bytes; its header promises {expected} (truncated or padded file).");
        if (labels.Length != 8 + count)
            throw new InvalidDataException($"'{labelsPath}' is {labels.Length} bytes; its header promises {8 + count} (truncated or padded file).");
        return new Content(images.AsSpan(16).ToArray(), labels.AsSpan(8).ToArray(), count, height, width);
    }

    /// <summary>Writes images and labels as gzip-compressed IDX files (atomically: written aside, then renamed).</summary>
    public static void Write(string imagesPath, string labelsPath, ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels, int height, int width)
    {
        int count = labels.Length;
        if (pixels.Length != count * height * width) throw new ArgumentException("pixels.Length must be labels.Length x height x width.");
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 2051);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), height);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), width);
        WriteGzip(imagesPath, header, pixels);
        var labelHeader = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(labelHeader, 2049);
        BinaryPrimitives.WriteInt32BigEndian(labelHeader.AsSpan(4), count);
        WriteGzip(labelsPath, labelHeader, labels);
    }

    private static void WriteGzip(string path, byte[] header, ReadOnlySpan<byte> body)
    {
        var temp = path + ".tmp";
        using (var file = File.Create(temp))
        using (var gzip = new GZipStream(file, CompressionLevel.SmallestSize))
        {
            gzip.Write(header);
            gzip.Write(body);
        }
        File.Move(temp, path, overwrite: true);
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The IDX file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        Stream stream = file;
        var magic = new byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        if (read == 2 && magic[0] == 0x1f && magic[1] == 0x8b) stream = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        try
        {
            stream.CopyTo(memory);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is a corrupt or truncated gzip file: {e.Message}", e);
        }
        finally
        {
            if (stream != file) stream.Dispose();
        }
        return memory.ToArray();
    }
}
