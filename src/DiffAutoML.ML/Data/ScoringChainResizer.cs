using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Resizes training images with the very transform the deployed model resizes with (ML.NET's ResizeImages, Fill;
/// Export/ScoringChainBuilder), so that a resized image gives the network the same pixels in training as in scoring.
/// </summary>
/// <remarks>
/// ML.NET 5's Fill resize samples the nearest pixel (SkiaSharp). Training used ImageSharp's bicubic filter before: the
/// two differed by up to 174 grey levels in more than half of the pixels, and on Fashion-MNIST upscaled to 56x56 the
/// returned model lost 0.76 points of test accuracy to that difference (docs/deployment.md). ML.NET's resampling is
/// internal to it, so it is run here through a PredictionEngine, one per thread (they are not thread-safe).
/// </remarks>
internal sealed class ScoringChainResizer : IDisposable
{
    private readonly ThreadLocal<PredictionEngine<Source, Resized>> _engines;

    /// <summary>The training size images are resized to.</summary>
    public int Width { get; }

    /// <summary>The training size images are resized to.</summary>
    public int Height { get; }

    public ScoringChainResizer(int width, int height)
    {
        (Width, Height) = (width, height);
        var ml = new MLContext();
        // ML.NET maps MLImage members to image columns only for registered sizes. The input is declared 1x1 (ResizeImages
        // reads the size of each image, not of the column type); the output is the training size, registered here.
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<Source>());
        var transformer = ml.Transforms.ResizeImages(nameof(Resized.Image), width, height, nameof(Source.Image), ImageResizingEstimator.ResizingKind.Fill).Fit(empty);
        new ImageTypeAttribute(height, width).Register();
        var output = SchemaDefinition.Create(typeof(Resized));
        output[nameof(Resized.Image)].ColumnType = new ImageDataViewType(height, width);
        _engines = new ThreadLocal<PredictionEngine<Source, Resized>>(
            () => ml.Model.CreatePredictionEngine<Source, Resized>(transformer, outputSchemaDefinition: output), trackAllValues: true);
    }

    /// <summary>A new image of the training size with the pixels the scoring chain's resize gives.</summary>
    public Image<Rgb24> Resize(Image<Rgb24> image)
    {
        var bgra = new byte[image.Width * image.Height * 4];
        var rgb = new Rgb24[image.Width * image.Height];
        image.CopyPixelDataTo(rgb);
        for (int i = 0; i < rgb.Length; i++) (bgra[4 * i], bgra[4 * i + 1], bgra[4 * i + 2], bgra[4 * i + 3]) = (rgb[i].B, rgb[i].G, rgb[i].R, 255);
        using var source = MLImage.CreateFromPixels(image.Width, image.Height, MLPixelFormat.Bgra32, bgra);
        return Resize(source);
    }

    /// <summary>A new image of the training size from an image as ML.NET decoded it: what the scoring chain does with
    /// the MLImage it loads, without the copies to RGB and back (they took 230 of about 690 ms per 12-megapixel photo; docs/benchmarks.md,
    /// "Data path").</summary>
    public Image<Rgb24> Resize(MLImage image)
    {
        using var resized = _engines.Value!.Predict(new Source { Image = image }).Image
            ?? throw new InvalidOperationException("ML.NET's ResizeImages returned no image.");
        return ImageDecoder.ToRgb(resized, Configuration.Default);
    }

    public void Dispose()
    {
        foreach (var engine in _engines.Values) engine.Dispose();
        _engines.Dispose();
    }

    private sealed class Source
    {
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class Resized
    {
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }
}
