// Scores images with a model that DiffAutoML.ML saved (mlContext.Model.Save), inside a larger ML.NET pipeline, in a
// process that has neither TorchSharp nor DiffAutoML.ML's training code: only ML.NET, ONNX Runtime and the small
// DiffAutoML.ML.Scoring assembly.
//
// usage: ScoreSavedModel <model.zip> <image folder with one sub-folder per class> [predictions.tsv]
// predictions.tsv: file, predicted label, the scores, then the three most probable classes as
// class=probability, one per field (named by the Score column's slot names)
using System.Globalization;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ScoreSavedModel <model.zip> <image folder with one sub-folder per class> [predictions.tsv]");
    return 2;
}
var mlContext = new MLContext(seed: 1);
var model = mlContext.LoadDiffAutoMLModel(args[0], out var inputSchema);
using var disposeModel = model as IDisposable; // deletes the temporary file ML.NET loaded the network into
// The model reads image paths from one text column of the schema it was saved with.
var textColumns = inputSchema.Where(c => c.Type is TextDataViewType).Select(c => c.Name).ToArray();
var imageColumn = new[] { "ImagePath", "Image", "Path" }.FirstOrDefault(textColumns.Contains) ?? textColumns.First();

// The larger pipeline: list the image files with their folder as label, score them with the loaded model.
var rows = Directory.GetDirectories(args[1]).OrderBy(d => d, StringComparer.Ordinal)
    .SelectMany(d => Directory.GetFiles(d, "*.png").OrderBy(f => f, StringComparer.Ordinal)
        .Select(f => new ImageRow { Path = Path.GetFullPath(f), Folder = Path.GetFileName(d) }))
    .ToArray();
var images = mlContext.Data.LoadFromEnumerable(rows);
var renamed = mlContext.Transforms.CopyColumns(imageColumn, nameof(ImageRow.Path)).Fit(images).Transform(images);
var scored = model.Transform(renamed);

var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
// Which class each score is for: the Score column's slot names, as with ML.NET's own multiclass trainers.
// (ClassNames reads them with GetSlotNames; models saved before 2026-12-02 have none: their classes are numbered.)
var classNames = scored.Schema["Score"].ClassNames()
    ?? Enumerable.Range(0, scores[0].Length).Select(c => $"class {c}").ToArray();
string Top3(float[] s) => string.Join("\t", s.Select((p, c) => (p, c)).OrderByDescending(t => t.p).Take(3)
    .Select(t => $"{classNames[t.c]}={t.p.ToString("F4", CultureInfo.InvariantCulture)}"));
int correct = rows.Where((r, i) => r.Folder == predicted[i].Replace('/', '_').Replace(' ', '_')).Count();
Console.WriteLine($"scored {rows.Length} images; accuracy against folder names {(double)correct / rows.Length:P2}");
Console.WriteLine($"first image, top 3: {Top3(scores[0]).Replace('\t', ' ')}");
if (args.Length > 2)
{
    using var writer = new StreamWriter(args[2]);
    for (int i = 0; i < rows.Length; i++)
        writer.WriteLine($"{Path.GetFileName(rows[i].Path)}\t{predicted[i]}\t{string.Join(" ", scores[i].Select(s => s.ToString("R", CultureInfo.InvariantCulture)))}\t{Top3(scores[i])}");
}
return 0;

internal sealed class ImageRow
{
    public string Path { get; set; } = "";
    public string Folder { get; set; } = "";
}
