using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// A synthetic photo-like folder dataset: three classes (a circle, a square, stripes) in random colours on a random
/// background with pixel noise, each image of a random size between 200 and 900 pixels a side, saved as PNG (some with
/// transparency), grey JPEG, WebP or colour JPEG in turn. It stands for a user's folder of photos of mixed sizes and
/// formats, which the shipped 28x28 data cannot (docs/benchmarks.md, "Photos at the automatic size").
/// </summary>
internal static class ShapesDataset
{
    private static readonly string[] Classes = { "circle", "square", "stripes" };

    /// <param name="size">Every image of this size (width, height) instead of random sizes.</param>
    public static void Write(string output, int perClass, int seed, (int Width, int Height)? size = null)
    {
        var rng = new Random(seed);
        for (int c = 0; c < Classes.Length; c++)
        {
            var folder = Path.Combine(output, Classes[c]);
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                int w = rng.Next(200, 900), h = rng.Next(200, 900);
                if (size is { } fixedSize) (w, h) = fixedSize;
                var background = new Rgba32((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                var shape = new Rgba32((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                double cx = w * (0.3 + 0.4 * rng.NextDouble()), cy = h * (0.3 + 0.4 * rng.NextDouble());
                double r = Math.Min(w, h) * (0.15 + 0.2 * rng.NextDouble());
                double period = Math.Min(w, h) / (4 + rng.Next(6)), angle = rng.NextDouble() * Math.PI;
                byte alpha = (byte)(i % 7 == 3 ? 200 : 255);
                using var image = new Image<Rgba32>(w, h);
                image.ProcessPixelRows(rows =>
                {
                    for (int y = 0; y < h; y++)
                    {
                        var row = rows.GetRowSpan(y);
                        for (int x = 0; x < w; x++)
                        {
                            bool inside = c switch
                            {
                                0 => (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r,
                                1 => Math.Abs(x - cx) < r && Math.Abs(y - cy) < r,
                                _ => ((int)((x * Math.Cos(angle) + y * Math.Sin(angle)) / period) & 1) == 0,
                            };
                            var p = inside ? shape : background;
                            int noise = rng.Next(-20, 21);
                            static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);
                            row[x] = new Rgba32(Clamp(p.R + noise), Clamp(p.G + noise), Clamp(p.B + noise), alpha);
                        }
                    }
                });
                var name = Path.Combine(folder, $"{Classes[c]}-{i:D3}");
                switch (i % 5)
                {
                    case 0: image.SaveAsPng(name + ".png"); break;
                    case 1: using (var grey = image.CloneAs<L8>()) grey.SaveAsJpeg(name + ".jpg"); break;
                    case 2: image.SaveAsWebp(name + ".webp"); break;
                    default: image.SaveAsJpeg(name + ".jpeg"); break;
                }
            }
        }
        Console.WriteLine($"wrote {Classes.Length * perClass} images to {output}");
    }
}
