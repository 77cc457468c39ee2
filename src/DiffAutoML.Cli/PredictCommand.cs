using DiffAutoML.ML.Data;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.Cli;

/// <summary>diffautoml predict model.zip image-or-folder...</summary>
internal static class PredictCommand
{
    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
    }

    public static int Run(string[] args)
    {
        var line = new CommandLine(args, new HashSet<string>());
        int top = line.Parse("top", int.Parse) ?? 1;
        line.RejectUnknown();
        if (top < 1) throw new UsageException($"--top {top} is not valid: at least 1 class.");
        if (line.Positional.Count < 2) throw new UsageException("predict needs a model file and at least one image or folder.");
        var ml = new MLContext();
        ITransformer model;
        DataViewSchema schema;
        try
        {
            model = ml.LoadDiffAutoMLModel(line.Positional[0], out schema);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
        using var ownedModel = model as IDisposable; // deletes the temporary file ML.NET loaded the network into
        var files = line.Positional.Skip(1).SelectMany<string, string>(p => Directory.Exists(p)
            ? ImageFolderDataset.ImageFiles(p)
            : new[] { p }).ToArray();
        var missing = files.FirstOrDefault(f => !File.Exists(f));
        if (missing is not null) { Console.Error.WriteLine($"error: '{missing}' does not exist."); return 1; }
        var textColumns = schema.Where(c => c.Type is TextDataViewType).Select(c => c.Name).ToArray();
        var imageColumn = new[] { "ImagePath", "Image", "Path" }.FirstOrDefault(textColumns.Contains)
            ?? throw new UsageException("This model does not read image files (it was trained on pixel vectors); use it from code.");
        // --top names classes by the Score column's slot names (models saved from 2026-12-02 on have them).
        var classNames = model.GetOutputSchema(schema)["Score"].ClassNames();
        if (top > 1 && classNames is null)
        {
            Console.Error.WriteLine("error: --top needs the class names that models saved from 2026-12-02 on keep with their scores; this one was saved before (train it again).");
            return 1;
        }
        (string[] Labels, float[][] Scores) Score(string[] paths)
        {
            var data = ml.Data.LoadFromEnumerable(paths.Select(f => new Row { ImagePath = Path.GetFullPath(f) }));
            if (imageColumn != nameof(Row.ImagePath)) data = ml.Transforms.CopyColumns(imageColumn, nameof(Row.ImagePath)).Fit(data).Transform(data);
            var scored = model.Transform(data);
            return (scored.GetColumn<string>("PredictedLabel").ToArray(), scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray());
        }
        string Line(string file, string label, float[] scores)
        {
            if (top == 1) return $"{file}\t{label}\t{scores.Max():P1}";
            // The most probable first; on ties the lower class index, as the predicted label.
            var best = scores.Select((p, c) => (p, c)).OrderByDescending(t => t.p).Take(top);
            return file + string.Concat(best.Select(t => $"\t{classNames![t.c]}\t{t.p:P1}"));
        }

        var readable = files;
        (string[] Labels, float[][] Scores) result;
        try
        {
            result = Score(readable);
        }
        catch (InvalidOperationException)
        {
            // ML.NET reports an unreadable file as "Splitter/consolidator worker encountered exception while consuming
            // source data" (models saved before 2026-12-01 with LoadImages do not name the file even inside): open each
            // file with the same decoder (MLImage), name the bad ones, and score the others.
            readable = files.Where(Readable).ToArray();
            if (readable.Length == files.Length) throw;
            if (readable.Length == 0) return 1;
            result = Score(readable);
        }
        for (int i = 0; i < readable.Length; i++) Console.WriteLine(Line(readable[i], result.Labels[i], result.Scores[i]));
        return readable.Length == files.Length ? 0 : 1;
    }

    private static bool Readable(string file)
    {
        try
        {
            // From a stream: for a file it cannot decode, CreateFromFile says "Invalid path".
            using var stream = File.OpenRead(file);
            using var image = MLImage.CreateFromStream(stream);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"error: '{file}' cannot be read as an image by the model's decoder (PNG, JPEG, BMP, GIF, WebP): {e.Message}");
            return false;
        }
    }
}
