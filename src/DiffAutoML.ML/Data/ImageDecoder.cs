using Microsoft.ML.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Turns every supported image source into RGB pixels with ImageSharp, and writes images of the training size as
/// channel-major bytes (<see cref="ScoringChainResizer"/> brings other sizes to it).
/// Problems are reported as <see cref="InvalidDataException"/> with a message that says what was wrong;
/// the caller adds the column, row and file.
/// </summary>
internal sealed class ImageDecoder
{
    private readonly Configuration _configuration;
    private readonly long _maxPixels;

    public ImageDecoder(long maxPixels)
    {
        _maxPixels = maxPixels;
        _configuration = Configuration.Default.Clone();
        // Images are decoded in parallel one per thread; ImageSharp's own parallelism would oversubscribe.
        _configuration.MaxDegreeOfParallelism = 1;
    }

    /// <summary>The image in a file; with <paramref name="resizer"/>, at its size (images ML.NET can decode are resized
    /// as decoded; others keep their size).</summary>
    public Image<Rgb24> DecodeFile(string path, ScoringChainResizer? resizer = null)
    {
        if (!File.Exists(path)) throw new InvalidDataException(Directory.Exists(path) ? "the path is a folder, not an image file" : "the image file does not exist");
        return DecodeBytes(File.ReadAllBytes(path), resizer);
    }

    /// <summary>An encoded image; with <paramref name="resizer"/>, at its size (images ML.NET can decode are resized as
    /// decoded; others keep their size).</summary>
    public Image<Rgb24> DecodeBytes(byte[] encoded, ScoringChainResizer? resizer = null)
    {
        if (encoded.Length == 0) throw new InvalidDataException("the image is empty (0 bytes)");
        IImageInfo? info;
        SixLabors.ImageSharp.Formats.IImageFormat? format;
        try
        {
            info = Image.Identify(_configuration, encoded, out format);
        }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException("the image header is corrupt: " + e.Message, e);
        }
        if (info is null) throw new InvalidDataException("unrecognised image format (supported: PNG, JPEG, BMP, GIF, WebP)");
        // ImageSharp reads these, but the deployed model's chain decodes with ML.NET's MLImage (SkiaSharp), which does not:
        // a model trained on them would fail on the same files at scoring time.
        if (ScoringUnreadableFormats.Contains(format?.Name ?? ""))
            throw new InvalidDataException($"{format!.Name} images can be read for training but not by the deployed model (ML.NET decodes " +
                "images with SkiaSharp, which reads PNG, JPEG, BMP, GIF and WebP): convert the file to PNG");
        CheckSize(info.Width, info.Height);
        Image<Rgb24> image;
        try
        {
            image = Image.Load<Rgb24>(_configuration, encoded);
        }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException or NotSupportedException or IndexOutOfRangeException or ArgumentException)
        {
            throw new InvalidDataException("corrupt or truncated image: " + e.Message, e);
        }
        // The pixels come from the decoder the deployed model uses, ML.NET's MLImage (SkiaSharp), for every format: lossy
        // decoders differ (measured: ImageSharp and SkiaSharp up to 42 grey levels apart, in up to 71% of the pixels of a
        // JPEG), and SkiaSharp premultiplies colour by alpha where ImageSharp drops alpha (a half-transparent pixel differs
        // by half its value). ImageSharp has checked the file above and reports what is wrong with a bad one.
        try
        {
            using var decoded = MLImage.CreateFromStream(new MemoryStream(encoded, writable: false));
            var pixels = resizer is null || (decoded.Width, decoded.Height) == (resizer.Width, resizer.Height) ? FromMLImage(decoded) : resizer.Resize(decoded);
            image.Dispose();
            return pixels;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or InvalidDataException)
        {
            return image; // SkiaSharp cannot read it: the scoring chain will say so; training keeps ImageSharp's pixels
        }
    }

    /// <summary>The size in an encoded image's header, or null when the header cannot be read (decoding says why).</summary>
    public (int Height, int Width)? HeaderSize(byte[] encoded)
    {
        try
        {
            return Size(Image.Identify(_configuration, encoded, out _));
        }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The size in an image file's header, read without decoding the image, or null (decoding says why).</summary>
    public (int Height, int Width)? HeaderSizeOfFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return Size(Image.Identify(_configuration, stream, out _));
        }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException or NotSupportedException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static (int Height, int Width)? Size(IImageInfo? info) => info is { Width: > 0, Height: > 0 } ? (info.Height, info.Width) : null;

    private static readonly HashSet<string> ScoringUnreadableFormats = new(StringComparer.OrdinalIgnoreCase) { "TGA", "TIFF", "PBM" };

    public Image<Rgb24> FromMLImage(MLImage image)
    {
        CheckSize(image.Width, image.Height);
        return ToRgb(image, _configuration);
    }

    /// <summary>The RGB pixels of a 32-bit BGRA or RGBA MLImage (alpha dropped).</summary>
    public static Image<Rgb24> ToRgb(MLImage image, Configuration configuration)
    {
        var pixels = image.Pixels;
        if (image.BitsPerPixel != 32 || pixels.Length < (long)image.Width * image.Height * 4)
            throw new InvalidDataException($"MLImage with {image.BitsPerPixel} bits per pixel is not supported (expected 32-bit BGRA or RGBA)");
        bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
        var rgb = new Rgb24[image.Width * image.Height];
        for (int i = 0; i < rgb.Length; i++)
        {
            byte c0 = pixels[4 * i], c1 = pixels[4 * i + 1], c2 = pixels[4 * i + 2];
            rgb[i] = bgra ? new Rgb24(c2, c1, c0) : new Rgb24(c0, c1, c2);
        }
        return Image.LoadPixelData<Rgb24>(configuration, rgb, image.Width, image.Height);
    }

    /// <summary>Builds an image from pixel values 0..255 laid out as given.</summary>
    public Image<Rgb24> FromPixels(ReadOnlySpan<float> values, int channels, int height, int width, PixelLayout layout)
    {
        CheckSize(width, height);
        // The scoring chain checks the same rule (DiffAutoML.ML.Scoring's CheckPixelsMapping).
        if (Scoring.PixelValueCheck.Problem(values) is { } problem) throw new InvalidDataException(problem);
        int plane = height * width;
        var rgb = new Rgb24[plane];
        for (int p = 0; p < plane; p++)
        {
            byte r = ToByte(values[Index(p, 0)]);
            byte g = channels == 1 ? r : ToByte(values[Index(p, 1)]);
            byte b = channels == 1 ? r : ToByte(values[Index(p, 2)]);
            rgb[p] = new Rgb24(r, g, b);
        }
        return Image.LoadPixelData<Rgb24>(_configuration, rgb, width, height);

        int Index(int pixel, int channel) => layout == PixelLayout.Chw ? channel * plane + pixel : pixel * channels + channel;
    }

    private static byte ToByte(float v) => (byte)MathF.Round(v); // checked to be 0..255 first

    private void CheckSize(int width, int height)
    {
        if (width <= 0 || height <= 0) throw new InvalidDataException($"the image has no pixels ({width}x{height})");
        if ((long)width * height > _maxPixels)
            throw new InvalidDataException($"the image is {width}x{height} = {(long)width * height} pixels, over the limit of {_maxPixels} (MaxImagePixels)");
    }

    /// <summary>
    /// Writes the pixels of an image already at the training size (<see cref="ScoringChainResizer"/> resizes)
    /// channel-major into <paramref name="destination"/> (channels x height x width). Returns true when the image is
    /// grey (R = G = B). One channel uses PIL's luminance L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, so that grey
    /// images are unchanged.
    /// </summary>
    public static bool WriteChw(Image<Rgb24> image, int channels, Span<byte> destination)
    {
        int width = image.Width, height = image.Height;
        if (destination.Length != channels * width * height) throw new ArgumentException($"{destination.Length} bytes for a {channels}x{height}x{width} image.", nameof(destination));
        var pixels = new Rgb24[width * height];
        image.CopyPixelDataTo(pixels);
        int plane = width * height;
        bool grey = true;
        for (int p = 0; p < plane; p++)
        {
            var px = pixels[p];
            grey &= px.R == px.G && px.G == px.B;
            if (channels == 1)
            {
                destination[p] = (byte)((px.R * 19595 + px.G * 38470 + px.B * 7471 + 0x8000) >> 16);
            }
            else
            {
                destination[p] = px.R;
                destination[plane + p] = px.G;
                destination[2 * plane + p] = px.B;
            }
        }
        return grey;
    }
}
