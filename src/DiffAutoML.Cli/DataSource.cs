using DiffAutoML.ML.Data;
using Microsoft.ML;

namespace DiffAutoML.Cli;

/// <summary>Reads a folder of class sub-folders or an IDX images file (with its labels file) as an IDataView.</summary>
internal static class DataSource
{
    public static (IDataView Data, string ImageColumn) Load(MLContext ml, string path, bool fashionMnist)
    {
        if (Directory.Exists(path)) return (ImageFolderDataset.Load(ml, path), "ImagePath");
        if (File.Exists(path) && path.Contains("images-idx3", StringComparison.Ordinal))
        {
            var labels = path.Replace("images-idx3", "labels-idx1", StringComparison.Ordinal);
            return (IdxDataset.Load(ml, path, labels, fashionMnist ? IdxDataset.FashionMnistClassNames : null), "Image");
        }
        throw new UsageException($"'{path}' is neither a folder with one sub-folder per class nor an IDX images file (*images-idx3-ubyte[.gz]).");
    }
}
