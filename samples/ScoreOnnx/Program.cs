// Scores image files with the standalone ONNX model that DiffAutoML.ML writes (model.SaveOnnx, or model.onnx from the
// command-line tool) through ONNX Runtime and ImageSharp only: no ML.NET, no TorchSharp. What the model takes and which
// class each output column is for come from the model's own metadata (docs/deployment.md, "The standalone ONNX file").
//
// usage: ScoreOnnx <model.onnx> <image file or folder>...
// One line per image: path, predicted class, its probability, then every class's probability in the model's order.
// Exit code 1 when a file could not be scored (each is named on standard error), 2 for a usage error.
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ScoreOnnx <model.onnx> <image file or folder>...");
    return 2;
}
if (!File.Exists(args[0]))
{
    Console.Error.WriteLine($"The model file '{args[0]}' does not exist.");
    return 2;
}
InferenceSession session;
try
{
    session = new InferenceSession(args[0]);
}
catch (OnnxRuntimeException e)
{
    Console.Error.WriteLine($"'{args[0]}' is not an ONNX model ONNX Runtime can load: {e.Message}");
    return 2;
}
using var disposeSession = session;
var metadata = session.ModelMetadata.CustomMetadataMap;
if (!metadata.TryGetValue("classes", out var classesJson) || !metadata.TryGetValue("input_shape", out var inputShape)
    || !metadata.TryGetValue("input_layout", out var inputLayout))
{
    Console.Error.WriteLine($"{args[0]} does not name its classes and input in its metadata: it was written before 2026-12-02. Save it again (SaveOnnx) with this version.");
    return 2;
}
var classes = JsonSerializer.Deserialize<string[]>(classesJson)!;
var shape = inputShape.Split('x').Select(int.Parse).ToArray(); // channels, height, width
bool interleaved = inputLayout == "Hwc";
var files = args[1..].SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : (IEnumerable<string>)new[] { a });
var invariant = CultureInfo.InvariantCulture;
int failed = 0;
foreach (var file in files)
{
    float[] pixels;
    try
    {
        pixels = Pixels(file, shape[0], shape[1], shape[2], interleaved);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or UnknownImageFormatException or InvalidImageContentException)
    {
        // ImageSharp's own message for an unknown format lists every decoder it has.
        Console.Error.WriteLine($"{file}: {(e is UnknownImageFormatException ? "not an image in a format ImageSharp reads (PNG, JPEG, BMP, GIF, WebP, TIFF, ...)" : e.Message)}");
        failed++;
        continue;
    }
    using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor<float>(pixels, new[] { 1, pixels.Length })) });
    var probabilities = results.First(r => r.Name == "probabilities").AsEnumerable<float>().ToArray();
    int best = Array.IndexOf(probabilities, probabilities.Max());
    Console.WriteLine($"{file}\t{classes[best]}\t{probabilities[best].ToString("F4", invariant)}\t{string.Join(" ", probabilities.Select(p => p.ToString("R", invariant)))}");
}
return failed == 0 ? 0 : 1;

// The pixels the ML.NET chain gives the network, values 0..255: the image stretched to the model's size by the nearest
// pixel, colour multiplied by alpha (as SkiaSharp, which the chain and training decode with, keeps it), grey as
// 0.3 R + 0.59 G + 0.11 B (ML.NET's ConvertToGrayscale), channel after channel unless the model takes interleaved pixels.
// Checked against the chain (docs/deployment.md): with a model for grey images, the same probabilities on grey images of
// the model's size and within 6.4e-4 on colour noise of other sizes; with a model for colour images, within 1e-5, on
// opaque and transparent noise.
static float[] Pixels(string file, int channels, int height, int width, bool interleaved)
{
    using var image = Image.Load<Rgba32>(file);
    var result = new float[channels * height * width];
    // The source pixel under each output pixel's centre, (2i + 1) / 2 * source / target, with a centre that falls exactly
    // on a pixel border taken from the pixel before it, as SkiaSharp does.
    static int Nearest(int i, int source, int target) => Math.Max(0, ((2 * i + 1) * source - 1) / (2 * target));
    image.ProcessPixelRows(rows =>
    {
        for (int y = 0; y < height; y++)
        {
            var row = rows.GetRowSpan(Nearest(y, image.Height, height));
            for (int x = 0; x < width; x++)
            {
                var p = row[Nearest(x, image.Width, width)];
                double r = Math.Round(p.R * p.A / 255.0), g = Math.Round(p.G * p.A / 255.0), b = Math.Round(p.B * p.A / 255.0);
                if (channels == 1)
                {
                    // In single precision on 0..1, as SkiaSharp's colour matrix computes it; one level off in about 0.15%
                    // of colours, whose exact grey lies halfway between two levels (6 of 4,096 random colours, measured).
                    float grey = Math.Clamp((float)r / 255f * 0.3f + (float)g / 255f * 0.59f + (float)b / 255f * 0.11f, 0f, 1f);
                    result[y * width + x] = MathF.Round(grey * 255f);
                    continue;
                }
                for (int c = 0; c < 3; c++)
                {
                    int at = interleaved ? (y * width + x) * 3 + c : c * height * width + y * width + x;
                    result[at] = (float)(c == 0 ? r : c == 1 ? g : b);
                }
            }
        }
    });
    return result;
}
