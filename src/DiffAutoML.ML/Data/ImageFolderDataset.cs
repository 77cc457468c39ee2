using Microsoft.ML;

namespace DiffAutoML.ML.Data;

/// <summary>
/// The Model Builder convention: a folder with one sub-folder per class, each holding that class's images.
/// </summary>
public static class ImageFolderDataset
{
    /// <summary>File extensions taken as images (case-insensitive). TGA and TIFF files are listed so that training says
    /// why it refuses them (the deployed model's ML.NET chain cannot decode them), rather than leaving them out unseen.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".tif", ".tiff", ".webp" };

    /// <summary>One row of an image-folder IDataView.</summary>
    public sealed class Row
    {
        /// <summary>Full path of the image file.</summary>
        public string ImagePath { get; set; } = "";

        /// <summary>The class: the name of the sub-folder.</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>
    /// Lists <paramref name="folder"/>'s class sub-folders (sorted by name) and their image files (sorted by name) as an
    /// IDataView with columns ImagePath (text) and Label (text). Hidden files and folders and "__MACOSX" are left out.
    /// Nothing is decoded here.
    /// </summary>
    public static IDataView Load(MLContext mlContext, string folder)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The image folder '{folder}' does not exist.");
        var rows = new List<Row>();
        var classes = Directory.GetDirectories(folder).Where(d => !IsSystemName(Path.GetFileName(d)) && !IsHidden(d)).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        if (classes.Length == 0)
            throw new InvalidDataException($"The image folder '{folder}' has no sub-folders: put each class's images in a sub-folder named after the class.");
        foreach (var classFolder in classes)
        {
            var label = Path.GetFileName(classFolder);
            rows.AddRange(ImageFiles(classFolder).Select(f => new Row { ImagePath = f, Label = label }));
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"The image folder '{folder}' has class sub-folders but no image files ({string.Join(", ", ImageExtensions)}).");
        return mlContext.Data.LoadFromEnumerable(rows);
    }

    /// <summary>The image files under <paramref name="folder"/> and its sub-folders (full paths, sorted): files with an
    /// image extension, without hidden files and folders and "__MACOSX".</summary>
    public static IEnumerable<string> ImageFiles(string folder)
        => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f))
                && !Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar).Any(IsSystemName) && !IsHidden(f))
            .Select(Path.GetFullPath)
            .OrderBy(f => f, StringComparer.Ordinal);

    /// <summary>
    /// Hidden entries (a name starting with '.', or the Hidden attribute) and macOS archive folders are not data: a zip
    /// made on a Mac unpacks a "__MACOSX" folder of "._name.jpg" resource files, which are not images, beside the classes.
    /// </summary>
    private static bool IsSystemName(string name) => name.StartsWith('.') || name == "__MACOSX";

    private static bool IsHidden(string path) => (File.GetAttributes(path) & FileAttributes.Hidden) != 0;
}
