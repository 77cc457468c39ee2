using DiffAutoML.ML.Augmentation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Reference;

/// <summary>
/// The augmentation operations written the way a C# developer would without tensors: one ImageSharp image at a time,
/// pixel by pixel, following PIL's semantics. The tests use it as the reference for the batched tensor code, and the
/// benchmark as the baseline. Grey images are RGB images with R = G = B.
/// </summary>
internal static class PerImageAugmentation
{
    public static Image<Rgb24> Apply(Image<Rgb24> image, AugmentationOperation op, double level, int sign, byte fill = 0)
    {
        double signed = sign * level;
        return op switch
        {
            AugmentationOperation.Identity => image.Clone(),
            AugmentationOperation.AutoContrast => AutoContrast(image),
            AugmentationOperation.Equalize => Equalize(image),
            AugmentationOperation.Posterize => Posterize(image, AugmentationMagnitudes.PosterizeBits(level)),
            AugmentationOperation.Solarize => Solarize(image, AugmentationMagnitudes.SolarizeThreshold(level)),
            AugmentationOperation.Color => Color(image, (float)AugmentationMagnitudes.EnhanceFactor(level)),
            AugmentationOperation.Contrast => Contrast(image, (float)AugmentationMagnitudes.EnhanceFactor(level)),
            AugmentationOperation.Brightness => Brightness(image, (float)AugmentationMagnitudes.EnhanceFactor(level)),
            AugmentationOperation.Sharpness => Sharpness(image, (float)AugmentationMagnitudes.EnhanceFactor(level)),
            AugmentationOperation.ShearX => Affine(image, 1, AugmentationMagnitudes.Shear(signed), 0, 0, 1, 0, fill),
            AugmentationOperation.ShearY => Affine(image, 1, 0, 0, AugmentationMagnitudes.Shear(signed), 1, 0, fill),
            AugmentationOperation.TranslateX => Affine(image, 1, 0, AugmentationMagnitudes.TranslatePixels(signed, image.Width), 0, 1, 0, fill),
            AugmentationOperation.TranslateY => Affine(image, 1, 0, 0, 0, 1, AugmentationMagnitudes.TranslatePixels(signed, image.Height), fill),
            AugmentationOperation.Rotate => Rotate(image, AugmentationMagnitudes.RotateDegrees(signed), fill),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    private static byte Channel(Rgb24 p, int c) => c == 0 ? p.R : c == 1 ? p.G : p.B;

    private static Image<Rgb24> Map(Image<Rgb24> image, Func<int, int, int, byte> value)
    {
        var output = new Image<Rgb24>(image.Width, image.Height);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                output[x, y] = new Rgb24(value(x, y, 0), value(x, y, 1), value(x, y, 2));
        return output;
    }

    private static int Luminance(Rgb24 p) => (p.R * 19595 + p.G * 38470 + p.B * 7471 + 0x8000) >> 16;

    private static byte BlendValue(int degenerate, int value, float factor)
    {
        float v = degenerate + factor * (value - degenerate);
        return v <= 0 ? (byte)0 : v >= 255 ? (byte)255 : (byte)v;
    }

    public static Image<Rgb24> Color(Image<Rgb24> image, float factor)
        => Map(image, (x, y, c) => BlendValue(Luminance(image[x, y]), Channel(image[x, y], c), factor));

    public static Image<Rgb24> Contrast(Image<Rgb24> image, float factor)
    {
        double sum = 0;
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++) sum += Luminance(image[x, y]);
        int mean = (int)(sum / (image.Width * image.Height) + 0.5);
        return Map(image, (x, y, c) => BlendValue(mean, Channel(image[x, y], c), factor));
    }

    public static Image<Rgb24> Brightness(Image<Rgb24> image, float factor)
        => Map(image, (x, y, c) => BlendValue(0, Channel(image[x, y], c), factor));

    public static Image<Rgb24> Sharpness(Image<Rgb24> image, float factor)
        => Map(image, (x, y, c) =>
        {
            int value = Channel(image[x, y], c), degenerate = value;
            if (x > 0 && y > 0 && x < image.Width - 1 && y < image.Height - 1)
            {
                int sum = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) sum += Channel(image[x + dx, y + dy], c) * (dx == 0 && dy == 0 ? 5 : 1);
                degenerate = (int)Math.Floor(sum / 13.0 + 0.5);
            }
            return BlendValue(degenerate, value, factor);
        });

    public static Image<Rgb24> Posterize(Image<Rgb24> image, int bits)
    {
        int mask = ~((1 << (8 - bits)) - 1);
        return Map(image, (x, y, c) => (byte)(Channel(image[x, y], c) & mask));
    }

    public static Image<Rgb24> Solarize(Image<Rgb24> image, double threshold)
        => Map(image, (x, y, c) => { int v = Channel(image[x, y], c); return (byte)(v >= threshold ? 255 - v : v); });

    public static Image<Rgb24> AutoContrast(Image<Rgb24> image)
    {
        var lut = new int[3][];
        for (int c = 0; c < 3; c++)
        {
            int lo = 255, hi = 0;
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++) { int v = Channel(image[x, y], c); lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
            lut[c] = Enumerable.Range(0, 256).Select(v => hi <= lo ? v : Math.Clamp((v - lo) * 255 / (hi - lo), 0, 255)).ToArray();
        }
        return Map(image, (x, y, c) => (byte)lut[c][Channel(image[x, y], c)]);
    }

    public static Image<Rgb24> Equalize(Image<Rgb24> image)
    {
        var lut = new int[3][];
        int n = image.Width * image.Height;
        for (int c = 0; c < 3; c++)
        {
            var histogram = new int[256];
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++) histogram[Channel(image[x, y], c)]++;
            int last = Array.FindLastIndex(histogram, h => h > 0);
            int step = (n - histogram[last]) / 255;
            lut[c] = new int[256];
            int acc = step / 2;
            for (int i = 0; i < 256; i++)
            {
                lut[c][i] = step == 0 ? i : Math.Min(255, acc / step);
                acc += histogram[i];
            }
        }
        return Map(image, (x, y, c) => (byte)lut[c][Channel(image[x, y], c)]);
    }

    /// <summary>PIL's affine transform: output pixel centre (x + 0.5, y + 0.5) maps to input (a x + b y + c, d x + e y + f), floored.</summary>
    public static Image<Rgb24> Affine(Image<Rgb24> image, double a, double b, double c, double d, double e, double f, byte fill)
    {
        var output = new Image<Rgb24>(image.Width, image.Height);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                double xin = a * (x + 0.5) + b * (y + 0.5) + c, yin = d * (x + 0.5) + e * (y + 0.5) + f;
                int xi = (int)Math.Floor(xin), yi = (int)Math.Floor(yin);
                output[x, y] = xi >= 0 && yi >= 0 && xi < image.Width && yi < image.Height ? image[xi, yi] : new Rgb24(fill, fill, fill);
            }
        return output;
    }

    /// <summary>PIL's rotate (counter-clockwise about (W/2, H/2), matrix rounded to 15 decimals).</summary>
    public static Image<Rgb24> Rotate(Image<Rgb24> image, double degrees, byte fill)
    {
        double radians = degrees * Math.PI / 180;
        double cos = Math.Round(Math.Cos(radians), 15), sin = Math.Round(Math.Sin(radians), 15);
        double cx = image.Width / 2.0, cy = image.Height / 2.0;
        return Affine(image, cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, fill);
    }
}
