using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Test accuracy of saved standalone ONNX models (model.onnx of a CLI run) on Fashion-MNIST's IDX test images as they are, mirrored
/// left-right, and with the two softmax outputs averaged (test-time flip averaging), so that the averaging can be
/// judged on models that were already trained, with and without flips in training.
/// </summary>
internal static class FlipAveragingBenchmark
{
    public static void Run(string folder, IEnumerable<string> models)
    {
        var test = IdxDataset.Read(IdxFile(folder, "t10k-images-idx3-ubyte"), IdxFile(folder, "t10k-labels-idx1-ubyte"));
        int n = test.Count, h = test.Height, w = test.Width, size = h * w;
        var pixels = test.Pixels.Select(b => (float)b).ToArray();
        var mirrored = new float[pixels.Length];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    mirrored[i * size + y * w + x] = pixels[i * size + y * w + (w - 1 - x)];
        // The trained model's outputs follow LabelMapping's order: the class names sorted ordinally.
        var sorted = IdxDataset.FashionMnistClassNames.Order(StringComparer.Ordinal).ToList();
        var outputIndex = IdxDataset.FashionMnistClassNames.Select(name => sorted.IndexOf(name)).ToArray();
        Console.WriteLine($"{n} test images of {h}x{w} from {folder}");
        Console.WriteLine("| model | as is | mirrored | averaged | averaged - as is | log-loss as is | log-loss averaged |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var model in models)
        {
            using var session = new InferenceSession(model);
            var plain = Probabilities(session, pixels, n, size);
            var flipped = Probabilities(session, mirrored, n, size);
            int classes = plain.Length / n;
            int right = 0, rightFlipped = 0, rightAveraged = 0;
            double logLoss = 0, logLossAveraged = 0;
            for (int i = 0; i < n; i++)
            {
                var a = plain.AsSpan(i * classes, classes);
                var b = flipped.AsSpan(i * classes, classes);
                var mean = new float[classes];
                for (int k = 0; k < classes; k++) mean[k] = 0.5f * (a[k] + b[k]);
                int label = outputIndex[test.Labels[i]];
                if (ArgMax(a) == label) right++;
                if (ArgMax(b) == label) rightFlipped++;
                if (ArgMax(mean) == label) rightAveraged++;
                logLoss -= Math.Log(Math.Max(a[label], 1e-15)); // clipped as ML.NET's evaluator does
                logLossAveraged -= Math.Log(Math.Max(mean[label], 1e-15));
            }
            Console.WriteLine($"| {model} | {100.0 * right / n:F2}% | {100.0 * rightFlipped / n:F2}% | {100.0 * rightAveraged / n:F2}% | {100.0 * (rightAveraged - right) / n:+0.00;-0.00} | {logLoss / n:F3} | {logLossAveraged / n:F3} |");
        }
    }

    /// <summary>The gzip-compressed file as Debian ships it, or the uncompressed one (the GPU machine's copy).</summary>
    internal static string IdxFile(string folder, string name)
        => File.Exists(Path.Combine(folder, name + ".gz")) ? Path.Combine(folder, name + ".gz") : Path.Combine(folder, name);

    internal static float[] Probabilities(InferenceSession session, float[] pixels, int n, int size)
    {
        var all = new List<float>();
        const int batch = 500;
        for (int start = 0; start < n; start += batch)
        {
            int count = Math.Min(batch, n - start);
            var input = new DenseTensor<float>(pixels.AsMemory(start * size, count * size), new[] { count, size });
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, input) });
            all.AddRange(results.First(r => r.Name == OnnxExporter.ProbabilitiesName).AsEnumerable<float>());
        }
        return all.ToArray();
    }

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int k = 1; k < values.Length; k++) if (values[k] > values[best]) best = k;
        return best;
    }
}
