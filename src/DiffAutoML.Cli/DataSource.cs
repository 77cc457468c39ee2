using DiffAutoML.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

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

    /// <summary>
    /// Refuses test data with a class the training data does not have, before training: the model has no output for
    /// it, so the evaluation at the end would fail (DiffAutoMLTransformer.Evaluate) after the whole search. Both sources
    /// have text labels (class folders, IDX class names or numbers); only the label column is read.
    /// </summary>
    public static void CheckTestClasses(IDataView train, IDataView test, string trainPath, string testPath)
    {
        var classes = train.GetColumn<string>("Label").ToHashSet(StringComparer.Ordinal);
        var extra = test.GetColumn<string>("Label").Where(l => !string.IsNullOrEmpty(l) && !classes.Contains(l)).Distinct().Take(5).ToArray();
        if (extra.Length > 0)
            throw new UsageException($"--test '{testPath}' has {(extra.Length == 1 ? "a class" : "classes")} that the training data '{trainPath}' does not: " +
                $"{string.Join(", ", extra.Select(c => $"'{c}'"))}. The model could only score {(extra.Length == 1 ? "its images" : "their images")} as wrong: " +
                "remove them from the test data or add them to the training data.");
    }
}
