using DiffAutoML.ML.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>Makes the shipped Fashion-MNIST subset and the full-size PNG layout used by the benchmarks.</summary>
internal static class DatasetTools
{
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The IDX pair <paramref name="prefix"/> ("train" or "t10k") of a Fashion-MNIST folder, labelled with class names.</summary>
    public static Microsoft.ML.IDataView LoadFashionMnist(Microsoft.ML.MLContext ml, string folder, string prefix)
        => IdxDataset.Load(ml, Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz"), Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);

    /// <summary>The first <paramref name="perClass"/> images of each class, in file order (reproducible).</summary>
    public static (byte[] Pixels, byte[] Labels) FirstPerClass(IdxDataset.Content content, int perClass)
    {
        int size = content.Height * content.Width;
        var taken = new int[10];
        var pixels = new List<byte>();
        var labels = new List<byte>();
        for (int i = 0; i < content.Count && labels.Count < 10 * perClass; i++)
        {
            int label = content.Labels[i];
            if (taken[label] == perClass) continue;
            taken[label]++;
            labels.Add(content.Labels[i]);
            pixels.AddRange(content.Pixels.AsSpan(i * size, size).ToArray());
        }
        return (pixels.ToArray(), labels.ToArray());
    }

    public static void MakeSubset(string source, string output, int trainPerClass, int testPerClass, int pngPerClass)
    {
        Directory.CreateDirectory(output);
        foreach (var (prefix, perClass) in new[] { ("train", trainPerClass), ("t10k", testPerClass) })
        {
            var content = IdxDataset.Read(Path.Combine(source, $"{prefix}-images-idx3-ubyte.gz"), Path.Combine(source, $"{prefix}-labels-idx1-ubyte.gz"));
            var (pixels, labels) = FirstPerClass(content, perClass);
            IdxDataset.Write(Path.Combine(output, $"{prefix}-images-idx3-ubyte.gz"), Path.Combine(output, $"{prefix}-labels-idx1-ubyte.gz"),
                pixels, labels, content.Height, content.Width);
            Console.WriteLine($"{prefix}: {labels.Length} images ({perClass} per class)");
            if (prefix == "t10k" && pngPerClass > 0)
            {
                var small = FirstPerClass(content, pngPerClass);
                WritePngFolders(Path.Combine(output, "test-png"), small.Pixels, small.Labels, content.Height, content.Width);
            }
        }
    }

    /// <summary>One sub-folder per class (names made file-system safe), one PNG per image.</summary>
    public static void WritePngFolders(string folder, byte[] pixels, byte[] labels, int height, int width)
    {
        int size = height * width;
        for (int i = 0; i < labels.Length; i++)
        {
            var classFolder = Path.Combine(folder, SafeName(IdxDataset.FashionMnistClassNames[labels[i]]));
            Directory.CreateDirectory(classFolder);
            using var image = Image.LoadPixelData<L8>(pixels.AsSpan(i * size, size), width, height);
            image.SaveAsPng(Path.Combine(classFolder, $"{i:D5}.png"));
        }
        Console.WriteLine($"{labels.Length} PNG files under {folder}");
    }

    public static string SafeName(string className) => className.Replace('/', '_').Replace(' ', '_');
}
