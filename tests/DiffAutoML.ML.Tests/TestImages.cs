using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Tests;

/// <summary>Small hand-made images for tests.</summary>
internal static class TestImages
{
    /// <summary>An RGB image whose pixel (x, y) is (r(x,y), g(x,y), b(x,y)).</summary>
    public static Image<Rgb24> Rgb(int width, int height, Func<int, int, Rgb24> pixel)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = pixel(x, y);
        return image;
    }

    public static byte[] Png(Image image)
    {
        using var memory = new MemoryStream();
        image.SaveAsPng(memory);
        return memory.ToArray();
    }

    /// <summary>A grey PNG whose pixel (x, y) is (seed + 7x + 13y) mod 256.</summary>
    public static byte[] GreyPng(int width, int height, int seed)
    {
        using var image = Rgb(width, height, (x, y) => { var v = (byte)((seed + 7 * x + 13 * y) % 256); return new Rgb24(v, v, v); });
        return Png(image);
    }

    /// <summary>A colour PNG with distinct channels.</summary>
    public static byte[] ColourPng(int width, int height, int seed)
    {
        using var image = Rgb(width, height, (x, y) => new Rgb24((byte)(seed + x), (byte)(seed + 2 * y), (byte)(255 - x - y)));
        return Png(image);
    }
}
