using DiffAutoML.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using SixLabors.ImageSharp.PixelFormats;

namespace DiffAutoML.ML.Tests.Data;

public class ImageDataLoaderTests
{
    private readonly MLContext _ml = new(seed: 1);

    private IDataView Bytes(params (byte[] Image, string Label)[] rows)
        => _ml.Data.LoadFromEnumerable(rows.Select(r => new BytesRow { Image = r.Image, Label = r.Label }));

    private static byte[] Pixels(ImageTensorCache cache, int index)
    {
        using var row = cache.Images[index];
        return row.contiguous().data<byte>().ToArray();
    }

    [Fact]
    public void Shipped_idx_subset_loads_as_one_channel_balanced_classes()
    {
        var data = IdxDataset.Load(_ml, TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClassNames);
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        Assert.Equal(5000, cache.Count);
        Assert.Equal((1, 28, 28), (cache.Channels, cache.Height, cache.Width));
        Assert.Equal(10, cache.LabelMapping.ClassCount);
        Assert.All(cache.ClassCounts, c => Assert.Equal(500, c));
        // Text labels are ordered ordinally, so "Ankle boot" is class 0.
        Assert.Equal("Ankle boot", cache.LabelMapping.ClassNames[0]);
        var raw = IdxDataset.Read(TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"));
        Assert.Equal(raw.Pixels.AsSpan(0, 784).ToArray(), Pixels(cache, 0));
        Assert.Equal(IdxDataset.FashionMnistClassNames[raw.Labels[0]], cache.LabelMapping.ClassNames[(int)cache.Labels[0]]);
    }

    [Fact]
    public void The_content_hash_changes_with_any_pixel_label_or_class_name_of_the_data()
    {
        var raw = IdxDataset.Read(TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"));
        const int count = 300, size = 784;
        var work = TempFolders.Create("diffautoml-hash").FullName;
        int files = 0;
        string Hash(byte[] pixels, byte[] labels, IReadOnlyList<string>? names = null, long maxPixelBytes = 64L << 20)
        {
            string images = Path.Combine(work, $"i{files}.gz"), labelsPath = Path.Combine(work, $"l{files++}.gz");
            IdxDataset.Write(images, labelsPath, pixels, labels, 28, 28);
            using var cache = ImageDataLoader.Load(IdxDataset.Load(_ml, images, labelsPath, names ?? IdxDataset.FashionMnistClassNames), new ImageDataOptions());
            return cache.ContentHash(maxPixelBytes);
        }
        var pixels = raw.Pixels.AsSpan(0, count * size).ToArray();
        var labels = raw.Labels.AsSpan(0, count).ToArray();
        string original = Hash(pixels, labels);
        Assert.Equal(64, original.Length);
        Assert.Equal(original, Hash(pixels.ToArray(), labels.ToArray())); // the same data read again

        var onePixel = pixels.ToArray();
        onePixel[250 * size + 400] ^= 1;
        Assert.NotEqual(original, Hash(onePixel, labels));
        var oneLabel = labels.ToArray();
        oneLabel[299] = (byte)((oneLabel[299] + 1) % 10);
        Assert.NotEqual(original, Hash(pixels, oneLabel));
        var renamed = IdxDataset.FashionMnistClassNames.Select(n => n == "Bag" ? "Handbag" : n).ToArray();
        Assert.NotEqual(original, Hash(pixels, labels, renamed));

        // Over the pixel limit, every third image is hashed (300 x 784 bytes in at most 100 x 784): image 249 counts, 250 not.
        string sampled = Hash(pixels, labels, maxPixelBytes: 100 * size);
        Assert.NotEqual(original, sampled);
        var unsampled = pixels.ToArray();
        unsampled[250 * size + 400] ^= 1;
        Assert.Equal(sampled, Hash(unsampled, labels, maxPixelBytes: 100 * size));
        var inSample = pixels.ToArray();
        inSample[249 * size + 400] ^= 1;
        Assert.NotEqual(sampled, Hash(inSample, labels, maxPixelBytes: 100 * size));
    }

    [Fact]
    public void Image_folder_png_files_decode_to_the_same_pixels_as_idx()
    {
        var folder = ImageFolderDataset.Load(_ml, Path.Combine(TestPaths.Subset, "test-png"));
        using var cache = ImageDataLoader.Load(folder, new ImageDataOptions { ImageColumnName = "ImagePath" });
        Assert.Equal(200, cache.Count);
        Assert.Equal(1, cache.Channels);
        // The PNG files are the first 20 test images of each class, named by their index in that selection.
        var raw = IdxDataset.Read(TestPaths.SubsetFile("t10k-images-idx3-ubyte.gz"), TestPaths.SubsetFile("t10k-labels-idx1-ubyte.gz"));
        var paths = folder.GetColumn<string>("ImagePath").ToArray();
        var firstTwenty = new List<int>();
        var taken = new int[10];
        for (int i = 0; i < raw.Count && firstTwenty.Count < 200; i++)
            if (taken[raw.Labels[i]]++ < 20) firstTwenty.Add(i);
        for (int row = 0; row < 200; row += 37)
        {
            int selection = int.Parse(Path.GetFileNameWithoutExtension(paths[row]));
            int source = firstTwenty[selection];
            Assert.Equal(raw.Pixels.AsSpan(source * 784, 784).ToArray(), Pixels(cache, row));
        }
    }

    [Fact]
    public void Encoded_bytes_column_keeps_colour_and_channel_order()
    {
        var data = Bytes((TestImages.ColourPng(4, 3, 10), "a"), (TestImages.ColourPng(4, 3, 20), "b"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        Assert.Equal((3, 3, 4), (cache.Channels, cache.Height, cache.Width));
        var p = Pixels(cache, 1);
        // Pixel (x=2, y=1): R = 20 + 2, G = 20 + 2, B = 255 - 3; CHW layout.
        int plane = 12, at = 1 * 4 + 2;
        Assert.Equal(new byte[] { 22, 22, 252 }, new[] { p[at], p[plane + at], p[2 * plane + at] });
    }

    [Fact]
    public void One_channel_option_uses_pil_luminance()
    {
        using var image = TestImages.Rgb(1, 1, (_, _) => new Rgb24(200, 100, 50));
        var data = Bytes((TestImages.Png(image), "a"), (TestImages.Png(image), "b"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { Channels = 1 });
        // PIL: (200*19595 + 100*38470 + 50*7471 + 32768) >> 16 = 124
        Assert.Equal(new byte[] { 124 }, Pixels(cache, 0));
    }

    [Fact]
    public void Different_sizes_are_resized_to_the_requested_size()
    {
        var data = Bytes((TestImages.GreyPng(8, 8, 1), "a"), (TestImages.GreyPng(16, 12, 2), "b"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { Height = 6, Width = 5 });
        Assert.Equal((1, 6, 5), (cache.Channels, cache.Height, cache.Width));
        // Automatic: the size of the image with the upper median aspect ratio (8x8 is 1, 16x12 is 4:3).
        using var typical = ImageDataLoader.Load(data, new ImageDataOptions());
        Assert.Equal((12, 16), (typical.Height, typical.Width));
    }

    [Fact]
    public void Loading_reports_the_images_decoded_at_most_once_per_interval()
    {
        var data = Bytes(Enumerable.Range(0, 10).Select(i => (TestImages.GreyPng(8, 8, i), i % 2 == 0 ? "a" : "b")).ToArray());
        var every = new List<string>();
        using (ImageDataLoader.Load(data, new ImageDataOptions(), null, default, new LoadingProgress(every.Add, 10, TimeSpan.Zero))) { }
        Assert.Equal(10, every.Count);
        Assert.Contains(every, m => m.StartsWith("Loaded 10 of 10 images in ", StringComparison.Ordinal));
        var quiet = new List<string>();
        using (ImageDataLoader.Load(data, new ImageDataOptions(), null, default, new LoadingProgress(quiet.Add, null, TimeSpan.FromHours(1)))) { }
        Assert.Empty(quiet);
        var unknownTotal = new List<string>();
        new LoadingProgress(unknownTotal.Add, null, TimeSpan.Zero).Decoded(3);
        Assert.StartsWith("Loaded 3 images in ", Assert.Single(unknownTotal), StringComparison.Ordinal);
    }

    [Fact]
    public void Decoding_at_the_training_size_gives_the_pixels_of_decoding_then_resizing()
    {
        // The loader resizes the image ML.NET decoded (as the scoring chain does), not an RGB copy of it; the pixels must
        // be those of the copy's resize, for opaque, half-transparent and lossy images, shrunk and enlarged.
        var random = new Random(5);
        using var photo = new SixLabors.ImageSharp.Image<Rgba32>(90, 70);
        for (int y = 0; y < 70; y++)
            for (int x = 0; x < 90; x++)
                photo[x, y] = new Rgba32((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)(x < 45 ? 255 : random.Next(256)));
        byte[] Encode(SixLabors.ImageSharp.Formats.IImageEncoder encoder)
        {
            using var stream = new MemoryStream();
            photo.Save(stream, encoder);
            return stream.ToArray();
        }
        var files = new[]
        {
            Encode(new SixLabors.ImageSharp.Formats.Png.PngEncoder { ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.RgbWithAlpha }),
            Encode(new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder()),
            TestImages.GreyPng(33, 21, 4),
        };
        var decoder = new ImageDecoder(1_000_000);
        foreach (var (width, height) in new[] { (20, 15), (120, 100) })
        {
            using var resizer = new ScoringChainResizer(width, height);
            foreach (var file in files)
            {
                using var decoded = decoder.DecodeBytes(file);
                using var expected = resizer.Resize(decoded);
                using var direct = decoder.DecodeBytes(file, resizer);
                Assert.Equal((width, height), (direct.Width, direct.Height));
                var (want, got) = (new Rgb24[width * height], new Rgb24[width * height]);
                expected.CopyPixelDataTo(want);
                direct.CopyPixelDataTo(got);
                Assert.Equal(want, got);
            }
        }
    }

    [Fact]
    public void The_automatic_size_follows_the_median_aspect_ratio_not_the_first_image()
    {
        // A 5:1 panorama first, then 3:2 images: the size used to be the panorama's, 64x13, stretching every other image.
        var data = Bytes((TestImages.GreyPng(300, 60, 1), "a"), (TestImages.GreyPng(150, 100, 2), "a"), (TestImages.GreyPng(300, 200, 3), "b"),
            (TestImages.GreyPng(240, 160, 4), "b"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { AutomaticMaxSide = 64 });
        Assert.Equal((43, 64), (cache.Height, cache.Width));
        Assert.Equal((160, 240), cache.ScaledDownFrom); // the four ratios sorted (ties in row order), the third: the last 3:2 image
        Assert.Equal(4, cache.Count);

        // Exact cases: the upper median; among equal ratios the earliest row; none.
        Assert.Equal((10, 20), ImageDataLoader.TypicalSize(new[] { (10, 20) }));
        Assert.Equal((10, 30), ImageDataLoader.TypicalSize(new[] { (10, 30), (10, 10) }));
        Assert.Equal((40, 60), ImageDataLoader.TypicalSize(new[] { (10, 50), (20, 30), (40, 60), (5, 5) }));
        Assert.Equal((40, 60), ImageDataLoader.TypicalSize(new[] { (40, 60), (10, 50), (20, 30), (5, 5), (1, 1) }));
        Assert.Null(ImageDataLoader.TypicalSize(Array.Empty<(int, int)>()));
    }

    [Fact]
    public void Large_images_get_an_automatic_size_within_the_longest_side_limit()
    {
        // 300x200 (width x height) and 120x90: the size comes from the one with the upper median aspect ratio, 300x200.
        var data = Bytes((TestImages.GreyPng(300, 200, 1), "a"), (TestImages.GreyPng(120, 90, 2), "b"));
        using (var limited = ImageDataLoader.Load(data, new ImageDataOptions { AutomaticMaxSide = 150 }))
        {
            Assert.Equal((100, 150), (limited.Height, limited.Width));
            Assert.Equal((200, 300), limited.ScaledDownFrom);
        }
        using (var unlimited = ImageDataLoader.Load(data, new ImageDataOptions { AutomaticMaxSide = 300 }))
        {
            Assert.Equal((200, 300), (unlimited.Height, unlimited.Width));
            Assert.Null(unlimited.ScaledDownFrom);
        }
        // One side set: the other follows the first image's aspect ratio, whatever the limit.
        using (var byHeight = ImageDataLoader.Load(data, new ImageDataOptions { Height = 50, AutomaticMaxSide = 20 }))
            Assert.Equal((50, 75), (byHeight.Height, byHeight.Width));
        using (var byWidth = ImageDataLoader.Load(data, new ImageDataOptions { Width = 60 }))
            Assert.Equal((40, 60), (byWidth.Height, byWidth.Width));
        Assert.Equal((168, 224), ImageDataLoader.AutomaticSize(3000, 4000, null, null, 224));
        Assert.Equal((3, 1), ImageDataLoader.AutomaticSize(3000, 1, null, null, 3));
        // Loaded alone, the automatic size keeps to the Paper preset's input side; the estimator uses its search space's.
        Assert.Null(new ImageDataOptions().AutomaticMaxSide);
        using (var standalone = ImageDataLoader.Load(Bytes((TestImages.GreyPng(300, 240, 1), "a"), (TestImages.GreyPng(20, 20, 2), "b")), new ImageDataOptions()))
            Assert.Equal((179, ImageDataOptions.StandaloneAutomaticMaxSide), (standalone.Height, standalone.Width));
        Assert.Equal(64, new DiffAutoML.ML.Search.SearchSpaceOptions().AutomaticInputSide);
        Assert.Equal(64, new DiffAutoML.ML.Search.SearchSpaceOptions { Preset = DiffAutoML.ML.Search.SearchSpacePreset.Tiny }.AutomaticInputSide);
        Assert.Equal(224, new DiffAutoML.ML.Search.SearchSpaceOptions { Preset = DiffAutoML.ML.Search.SearchSpacePreset.Paper }.AutomaticInputSide);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageDataLoader.Load(data, new ImageDataOptions { AutomaticMaxSide = 0 }));
    }

    [Fact]
    public void Path_column_resolves_relative_paths_against_the_image_folder()
    {
        var dir = TempFolders.Create("diffautoml-paths").FullName;
        File.WriteAllBytes(Path.Combine(dir, "a.png"), TestImages.GreyPng(3, 3, 5));
        File.WriteAllBytes(Path.Combine(dir, "b.png"), TestImages.GreyPng(3, 3, 6));
        var data = _ml.Data.LoadFromEnumerable(new[] { new PathRow { Image = "a.png", Label = "x" }, new PathRow { Image = "b.png", Label = "y" } });
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { ImageFolder = dir });
        Assert.Equal(5, Pixels(cache, 0)[0]);
        Assert.Equal(6, Pixels(cache, 1)[0]);
    }

    [Fact]
    public void MLImage_column_from_LoadImages_gives_the_decoded_pixels()
    {
        var dir = TempFolders.Create("diffautoml-mlimage").FullName;
        File.WriteAllBytes(Path.Combine(dir, "a.png"), TestImages.ColourPng(5, 4, 30));
        File.WriteAllBytes(Path.Combine(dir, "b.png"), TestImages.ColourPng(5, 4, 60));
        var paths = _ml.Data.LoadFromEnumerable(new[] { new PathRow { Image = "a.png", Label = "x" }, new PathRow { Image = "b.png", Label = "y" } });
        var images = _ml.Transforms.LoadImages("Picture", dir, "Image").Fit(paths).Transform(paths);
        using var cache = ImageDataLoader.Load(images, new ImageDataOptions { ImageColumnName = "Picture" });
        using var reference = ImageDataLoader.Load(Bytes((TestImages.ColourPng(5, 4, 30), "x"), (TestImages.ColourPng(5, 4, 60), "y")), new ImageDataOptions());
        Assert.Equal(3, cache.Channels);
        Assert.Equal(Pixels(reference, 1), Pixels(cache, 1));
    }

    private sealed class HwcRow
    {
        [VectorType(2 * 2 * 3)]
        public float[] Pixels { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    [Fact]
    public void Pixel_vector_in_hwc_layout_is_reordered_to_chw()
    {
        // pixel p has channels (p, 10 + p, 20 + p), interleaved
        var hwc = Enumerable.Range(0, 4).SelectMany(p => new float[] { p, 10 + p, 20 + p }).ToArray();
        var data = _ml.Data.LoadFromEnumerable(new[] { new HwcRow { Pixels = hwc, Label = 1 }, new HwcRow { Pixels = hwc, Label = 2 } });
        var options = new ImageDataOptions { ImageColumnName = "Pixels", PixelVectorShape = (3, 2, 2), PixelVectorLayout = PixelLayout.Hwc };
        using var cache = ImageDataLoader.Load(data, options);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23 }, Pixels(cache, 0));
    }

    [Fact]
    public void Pixel_vectors_out_of_range_or_scaled_to_0_1_are_rejected_naming_the_row()
    {
        var options = new ImageDataOptions { ImageColumnName = "Pixels", PixelVectorShape = (3, 2, 2) };
        var good = Enumerable.Range(0, 12).Select(i => (float)(i * 20)).ToArray();
        HwcRow[] Rows(float[] second) => new[] { new HwcRow { Pixels = good, Label = 1 }, new HwcRow { Pixels = second, Label = 2 } };

        var negative = good.Select(v => v - 100).ToArray();
        var e = Assert.Throws<ImageDataException>(() => ImageDataLoader.Load(_ml.Data.LoadFromEnumerable(Rows(negative)), options));
        Assert.Contains("outside 0..255", e.Message);
        Assert.Equal(1, e.Row);
        // What ExtractPixels(scaleImage: 1f / 255) gives.
        var scaled = good.Select(v => v / 255f).ToArray();
        e = Assert.Throws<ImageDataException>(() => ImageDataLoader.Load(_ml.Data.LoadFromEnumerable(Rows(scaled)), options));
        Assert.Contains("between 0 and 1", e.Message);
        Assert.Equal("Pixels", e.ColumnName);
        Assert.Equal(1, e.Row);
        // A dark image of whole values is an image.
        var dark = good.Select(v => v > 100 ? 1f : 0f).ToArray();
        using var cache = ImageDataLoader.Load(_ml.Data.LoadFromEnumerable(Rows(dark)), options);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void Pixel_vector_without_a_shape_is_rejected_naming_the_option()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new HwcRow { Pixels = new float[12], Label = 1 } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ImageDataLoader.Load(data, new ImageDataOptions { ImageColumnName = "Pixels" }));
        Assert.Contains("PixelVectorShape", e.Message);
        Assert.Contains("'Pixels'", e.Message);
    }

    private sealed class NumberLabelRow
    {
        public byte[] Image { get; set; } = Array.Empty<byte>();
        public double Label { get; set; }
    }

    [Fact]
    public void Numeric_labels_are_ordered_numerically()
    {
        var png = TestImages.GreyPng(2, 2, 0);
        var data = _ml.Data.LoadFromEnumerable(new[] { 10.0, 9.0, 2.5 }.Select(l => new NumberLabelRow { Image = png, Label = l }));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        Assert.Equal(new[] { "2.5", "9", "10" }, cache.LabelMapping.ClassNames);
        Assert.Equal(new long[] { 2, 1, 0 }, cache.Labels);
        Assert.Equal(LabelKind.Number, cache.LabelMapping.Kind);
    }

    [Fact]
    public void Key_labels_keep_their_key_values()
    {
        var data = Bytes((TestImages.GreyPng(2, 2, 0), "cat"), (TestImages.GreyPng(2, 2, 1), "dog"), (TestImages.GreyPng(2, 2, 1), "cat"));
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var cache = ImageDataLoader.Load(keyed, new ImageDataOptions());
        Assert.Equal(LabelKind.Key, cache.LabelMapping.Kind);
        Assert.Equal(new[] { "cat", "dog" }, cache.LabelMapping.ClassNames);
        Assert.Equal(new long[] { 0, 1, 0 }, cache.Labels);
    }

    [Fact]
    public void Validation_data_shares_the_training_classes_and_rejects_unknown_labels()
    {
        var train = Bytes((TestImages.GreyPng(2, 2, 0), "b"), (TestImages.GreyPng(2, 2, 1), "a"));
        using var cache = ImageDataLoader.Load(train, new ImageDataOptions());
        using var validation = ImageDataLoader.Load(Bytes((TestImages.GreyPng(2, 2, 0), "b")), new ImageDataOptions(), cache.LabelMapping);
        Assert.Equal(new long[] { 1 }, validation.Labels);
        var e = Assert.Throws<ImageDataException>(() => ImageDataLoader.Load(Bytes((TestImages.GreyPng(2, 2, 0), "c")), new ImageDataOptions(), cache.LabelMapping));
        Assert.Equal(0, e.Row);
        Assert.Contains("'c'", e.Message);
    }
}
