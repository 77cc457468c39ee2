using System.Diagnostics;
using DiffAutoML.ML.Data;
using Microsoft.ML.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Where the time of loading a photo goes: the steps of <c>ImageDecoder.DecodeFile</c> and the resize to the training
/// size (ImageSharp's check-decode, SkiaSharp's decode through MLImage, the copy to RGB, ML.NET's resize of that copy
/// or of the decoded MLImage), one image at a time on one thread, in milliseconds per image.
/// </summary>
internal static class PhotoDecodeBenchmark
{
    public static void Run(string folder, int side)
    {
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"no images under {folder}");
        var decoder = new ImageDecoder(new ImageDataOptions().MaxImagePixels);
        var configuration = Configuration.Default.Clone();
        configuration.MaxDegreeOfParallelism = 1;
        double imageSharp = 0, skia = 0, toRgb = 0, resize = 0, resizeDecoded = 0, product = 0;
        long pixels = 0;
        // One warm-up image, not counted.
        for (int i = -1; i < files.Length; i++)
        {
            var file = files[Math.Max(i, 0)];
            var bytes = File.ReadAllBytes(file);
            var clock = Stopwatch.StartNew();
            using (var checkedImage = Image.Load<Rgb24>(configuration, bytes)) pixels += i >= 0 ? (long)checkedImage.Width * checkedImage.Height : 0;
            double a = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            using var decoded = MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
            double b = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            using var rgb = ImageDecoder.ToRgb(decoded, configuration);
            double c = clock.Elapsed.TotalMilliseconds;
            int w = rgb.Width >= rgb.Height ? side : Math.Max(1, (int)Math.Round(side * (double)rgb.Width / rgb.Height));
            int h = rgb.Width >= rgb.Height ? Math.Max(1, (int)Math.Round(side * (double)rgb.Height / rgb.Width)) : side;
            using var resizer = new ScoringChainResizer(w, h);
            using (resizer.Resize(rgb)) { } // the engine's first call, not counted
            clock.Restart();
            using (resizer.Resize(rgb)) { }
            double d = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            using (resizer.Resize(decoded)) { }
            double d2 = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            using (var image = decoder.DecodeFile(file, resizer))
            using (image.Width == w && image.Height == h ? null : resizer.Resize(image)) { }
            double e = clock.Elapsed.TotalMilliseconds;
            if (i < 0) continue;
            (imageSharp, skia, toRgb, resize, resizeDecoded, product) = (imageSharp + a, skia + b, toRgb + c, resize + d, resizeDecoded + d2, product + e);
        }
        int n = files.Length;
        Console.WriteLine($"{n} images, {pixels / (double)n / 1e6:F1} megapixels on average, resized to at most {side} pixels; ms per image, one thread:");
        Console.WriteLine($"  ImageSharp decode (the check)   {imageSharp / n,8:F1}");
        Console.WriteLine($"  SkiaSharp decode (MLImage)      {skia / n,8:F1}");
        Console.WriteLine($"  copy to RGB (ToRgb)             {toRgb / n,8:F1}");
        Console.WriteLine($"  ML.NET resize of the RGB copy   {resize / n,8:F1}");
        Console.WriteLine($"  ML.NET resize of the MLImage    {resizeDecoded / n,8:F1}");
        Console.WriteLine($"  DecodeFile + resize (the loader's path) {product / n,8:F1}");
    }
}
