using DiffAutoML.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Test accuracy of saved standalone ONNX models on Fashion-MNIST's IDX test images when the softmax outputs of several
/// views of each image are averaged: the image alone, with its mirror (what TestTimeFlip builds into the model), with
/// one-pixel shifts (the crop augmentation's moves, zero fill as in training), and flips with shifts together. It judges
/// whether more test-time views than the flip would be worth building, on models trained with crop and flip but exported
/// without the flip's averaging.
/// </summary>
internal static class ViewAveragingBenchmark
{
    private sealed record View(bool Mirror, int Dx, int Dy);

    public static void Run(string folder, IEnumerable<string> models)
    {
        var test = IdxDataset.Read(FlipAveragingBenchmark.IdxFile(folder, "t10k-images-idx3-ubyte"), FlipAveragingBenchmark.IdxFile(folder, "t10k-labels-idx1-ubyte"));
        int n = test.Count, h = test.Height, w = test.Width;
        var one = new[] { -1, 0, 1 };
        var plusShifts = new[] { (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1) };
        var grid = one.SelectMany(dx => one.Select(dy => (dx, dy))).ToArray();
        View[] Of(IEnumerable<(int, int)> shifts, bool flips)
            => shifts.SelectMany(s => (flips ? new[] { false, true } : new[] { false }).Select(m => new View(m, s.Item1, s.Item2))).ToArray();
        var sets = new (string Name, View[] Views)[]
        {
            ("as is", Of(new[] { (0, 0) }, false)),
            ("flip (2 views)", Of(new[] { (0, 0) }, true)),
            ("1-px shifts, + (5)", Of(plusShifts, false)),
            ("flip x 1-px shifts, + (10)", Of(plusShifts, true)),
            ("1-px shifts, 3x3 (9)", Of(grid, false)),
            ("flip x 1-px shifts, 3x3 (18)", Of(grid, true)),
        };
        var sorted = IdxDataset.FashionMnistClassNames.Order(StringComparer.Ordinal).ToList();
        var outputIndex = IdxDataset.FashionMnistClassNames.Select(name => sorted.IndexOf(name)).ToArray();
        Console.WriteLine($"{n} test images of {h}x{w} from {folder}; views averaged in softmax space; shifts fill with 0");
        Console.WriteLine("| model | " + string.Join(" | ", sets.Select(s => s.Name)) + " |");
        Console.WriteLine("| --- |" + string.Concat(sets.Select(_ => " --- |")));
        foreach (var model in models)
        {
            using var session = new InferenceSession(model);
            var cache = new Dictionary<View, float[]>();
            float[] Scores(View v) => cache.TryGetValue(v, out var p) ? p
                : cache[v] = FlipAveragingBenchmark.Probabilities(session, Transform(test.Pixels, n, h, w, v), n, h * w);
            var cells = new List<string>();
            foreach (var (_, views) in sets)
            {
                var scores = views.Select(Scores).ToArray();
                int classes = scores[0].Length / n, right = 0;
                var mean = new float[classes];
                for (int i = 0; i < n; i++)
                {
                    Array.Clear(mean);
                    foreach (var s in scores) for (int k = 0; k < classes; k++) mean[k] += s[i * classes + k];
                    if (FlipAveragingBenchmark.ArgMax(mean) == outputIndex[test.Labels[i]]) right++;
                }
                cells.Add($"{100.0 * right / n:F2}%");
            }
            Console.WriteLine($"| {model} | {string.Join(" | ", cells)} |");
        }
    }

    /// <summary>Output pixel (x, y) shows input pixel (x + dx, y + dy) of the image (mirrored first when asked); 0 outside.</summary>
    private static float[] Transform(byte[] pixels, int n, int h, int w, View v)
    {
        var result = new float[pixels.Length];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int sx = x + v.Dx, sy = y + v.Dy;
                    if (sx < 0 || sx >= w || sy < 0 || sy >= h) continue;
                    if (v.Mirror) sx = w - 1 - sx;
                    result[(i * h + y) * w + x] = pixels[(i * h + sy) * w + sx];
                }
        return result;
    }
}
