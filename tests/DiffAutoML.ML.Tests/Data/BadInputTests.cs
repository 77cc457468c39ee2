using DiffAutoML.ML.Data;
using Microsoft.ML;

namespace DiffAutoML.ML.Tests.Data;

/// <summary>Every kind of bad input gets a .NET exception naming what was wrong; SkipBadRows counts instead.</summary>
public class BadInputTests
{
    private readonly MLContext _ml = new(seed: 1);

    private sealed class FloatLabelRow
    {
        public byte[] Image { get; set; } = Array.Empty<byte>();
        public float Label { get; set; }
    }

    private static readonly byte[] Good = TestImages.GreyPng(4, 4, 3);

    private IDataView WithSecondRow(byte[] image, string label = "b")
        => _ml.Data.LoadFromEnumerable(new[] { new BytesRow { Image = Good, Label = "a" }, new BytesRow { Image = image, Label = label }, new BytesRow { Image = Good, Label = "b" } });

    private static ImageDataException Fails(IDataView data, ImageDataOptions? options = null)
        => Assert.Throws<ImageDataException>(() => ImageDataLoader.Load(data, options ?? new ImageDataOptions()));

    [Fact]
    public void Corrupt_image_names_column_and_row()
    {
        var corrupt = (byte[])Good.Clone();
        for (int i = 40; i < corrupt.Length - 12; i++) corrupt[i] ^= 0x5a; // keep the header, scramble the data
        var e = Fails(WithSecondRow(corrupt));
        Assert.Equal(("Image", 1L), (e.ColumnName, e.Row));
        Assert.Contains("Column 'Image', row 1", e.Message);
    }

    [Fact]
    public void Truncated_image_is_reported()
    {
        var big = TestImages.ColourPng(64, 64, 1);
        var e = Fails(WithSecondRow(big.AsSpan(0, big.Length / 2).ToArray()));
        Assert.Equal(1, e.Row);
    }

    [Fact]
    public void Empty_image_is_reported()
    {
        var e = Fails(WithSecondRow(Array.Empty<byte>()));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Formats_the_deployed_model_cannot_read_are_refused_in_training()
    {
        // ImageSharp decodes TIFF, but ML.NET's image loading (SkiaSharp), which the returned model scores with, does not.
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(4, 4);
        var tiff = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsTiff(image, tiff);
        var e = Fails(WithSecondRow(tiff.ToArray()));
        Assert.Equal(1, e.Row);
        Assert.Contains("TIFF images can be read for training but not by the deployed model", e.Message);
        Assert.Throws<ArgumentException>(() => Microsoft.ML.Data.MLImage.CreateFromStream(new MemoryStream(tiff.ToArray())));
    }

    [Fact]
    public void Unsupported_format_is_reported()
    {
        var e = Fails(WithSecondRow("this is not an image"u8.ToArray()));
        Assert.Contains("unrecognised image format", e.Message);
    }

    [Fact]
    public void Image_over_the_pixel_limit_is_rejected_before_decoding()
    {
        var e = Fails(WithSecondRow(TestImages.GreyPng(100, 100, 1)), new ImageDataOptions { MaxImagePixels = 5000 });
        Assert.Contains("10000 pixels", e.Message);
        Assert.Contains("MaxImagePixels", e.Message);
    }

    [Fact]
    public void Missing_file_names_the_file()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new PathRow { Image = "/nonexistent/dir/cat.png", Label = "a" } });
        var e = Fails(data);
        Assert.Equal("/nonexistent/dir/cat.png", e.FilePath);
        Assert.Contains("file '/nonexistent/dir/cat.png'", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Missing_text_label_is_reported()
    {
        var e = Fails(WithSecondRow(Good, label: "  "));
        Assert.Equal(("Label", 1L), (e.ColumnName, e.Row));
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void NaN_label_is_reported()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new FloatLabelRow { Image = Good, Label = 1 }, new FloatLabelRow { Image = Good, Label = float.NaN } });
        var e = Fails(data);
        Assert.Equal(("Label", 1L), (e.ColumnName, e.Row));
    }

    [Fact]
    public void Single_class_is_rejected()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new BytesRow { Image = Good, Label = "a" }, new BytesRow { Image = Good, Label = "a" } });
        var e = Assert.Throws<InvalidOperationException>(() => ImageDataLoader.Load(data, new ImageDataOptions()));
        Assert.Contains("only one class", e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void No_rows_is_rejected()
    {
        var data = _ml.Data.LoadFromEnumerable(Array.Empty<BytesRow>());
        var e = Assert.Throws<InvalidOperationException>(() => ImageDataLoader.Load(data, new ImageDataOptions()));
        Assert.Contains("no rows", e.Message);
    }

    [Fact]
    public void Wrong_column_type_names_column_and_expected_type()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new FloatLabelRow { Image = Good, Label = 1 } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ImageDataLoader.Load(data, new ImageDataOptions { ImageColumnName = "Label" }));
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("Single", e.Message);
        Assert.Contains("expected MLImage", e.Message);
    }

    [Fact]
    public void Unknown_column_lists_the_columns_there_are()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ImageDataLoader.Load(WithSecondRow(Good), new ImageDataOptions { ImageColumnName = "Picture" }));
        Assert.Contains("'Picture' is not in the data", e.Message);
        Assert.Contains("'Image'", e.Message);
        Assert.Contains("'Label'", e.Message);
    }

    [Fact]
    public void Skip_bad_rows_counts_and_explains_them()
    {
        var data = _ml.Data.LoadFromEnumerable(new[]
        {
            new BytesRow { Image = Good, Label = "a" }, new BytesRow { Image = Array.Empty<byte>(), Label = "a" },
            new BytesRow { Image = Good, Label = "" }, new BytesRow { Image = Good, Label = "b" },
        });
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions { SkipBadRows = true });
        Assert.Equal(2, cache.Count);
        Assert.Equal(2, cache.SkippedRows);
        Assert.Contains(cache.SkipReasons, r => r.Contains("row 1") && r.Contains("empty"));
        Assert.Contains(cache.SkipReasons, r => r.Contains("row 2") && r.Contains("missing"));
    }

    [Fact]
    public void Skip_bad_rows_skips_a_bad_first_image_and_says_so_when_no_row_is_left()
    {
        // The automatic size used to come from the first image, decoded before any row could be skipped: a corrupt first
        // image stopped the load even with SkipBadRows.
        var corrupt = new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 };
        var data = _ml.Data.LoadFromEnumerable(new[]
        {
            new BytesRow { Image = corrupt, Label = "a" }, new BytesRow { Image = Good, Label = "a" }, new BytesRow { Image = Good, Label = "b" },
        });
        using (var cache = ImageDataLoader.Load(data, new ImageDataOptions { SkipBadRows = true }))
        {
            Assert.Equal(2, cache.Count);
            Assert.Equal(1, cache.SkippedRows);
            Assert.Contains(cache.SkipReasons, r => r.Contains("row 0"));
        }
        var e = Assert.Throws<ImageDataException>(() => ImageDataLoader.Load(data, new ImageDataOptions()));
        Assert.Equal(0, e.Row);
        var allBad = _ml.Data.LoadFromEnumerable(new[] { new BytesRow { Image = corrupt, Label = "a" }, new BytesRow { Image = corrupt, Label = "b" } });
        var none = Assert.Throws<InvalidOperationException>(() => ImageDataLoader.Load(allBad, new ImageDataOptions { SkipBadRows = true }));
        Assert.Contains("None of the 2 rows", none.Message);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageDataOptions { Channels = 2 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageDataOptions { Height = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageDataOptions { MaxImagePixels = -1 }.Validate());
    }

    [Fact]
    public void Cache_over_the_memory_limit_is_rejected_with_advice()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ImageDataLoader.Load(WithSecondRow(Good), new ImageDataOptions { MaxCacheBytes = 40 }));
        Assert.Contains("MaxCacheBytes", e.Message);
    }

    [Fact]
    public void Idx_files_with_a_wrong_magic_or_truncated_body_are_rejected()
    {
        var dir = TempFolders.Create("diffautoml-idx").FullName;
        string images = Path.Combine(dir, "i.gz"), labels = Path.Combine(dir, "l.gz");
        IdxDataset.Write(images, labels, new byte[8], new byte[] { 0, 1 }, 2, 2);
        Assert.Equal(2, IdxDataset.Read(images, labels).Count);
        var e1 = Assert.Throws<InvalidDataException>(() => IdxDataset.Read(labels, labels));
        Assert.Contains("2051", e1.Message);
        var raw = File.ReadAllBytes(images);
        var truncatedPath = Path.Combine(dir, "t.gz");
        File.WriteAllBytes(truncatedPath, raw.AsSpan(0, raw.Length / 2).ToArray());
        Assert.Throws<InvalidDataException>(() => IdxDataset.Read(truncatedPath, labels));
        Assert.Throws<FileNotFoundException>(() => IdxDataset.Read(Path.Combine(dir, "none.gz"), labels));
    }

    [Fact]
    public void Image_folder_leaves_out_hidden_files_and_mac_archive_folders()
    {
        // What a zip made on macOS unpacks to: resource files named like images, which are not images.
        var dir = TempFolders.Create("diffautoml-folder").FullName;
        foreach (var path in new[] { "cat/1.png", "dog/2.png", "cat/._1.png", "__MACOSX/cat/._1.png", ".thumbnails/3.png", "dog/.cache/4.png" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, path))!);
            File.WriteAllBytes(Path.Combine(dir, path), Path.GetFileName(path).StartsWith("._") ? new byte[] { 0, 5, 22, 7 } : TestImages.GreyPng(4, 4, 1));
        }
        var rows = _ml.Data.CreateEnumerable<ImageFolderDataset.Row>(ImageFolderDataset.Load(_ml, dir), reuseRowObject: false).ToArray();
        Assert.Equal(new[] { "cat/1.png", "dog/2.png" }, rows.Select(r => Path.GetRelativePath(dir, r.ImagePath).Replace('\\', '/')));
        Assert.Equal(new[] { "cat", "dog" }, rows.Select(r => r.Label));
        using var cache = ImageDataLoader.Load(ImageFolderDataset.Load(_ml, dir), new ImageDataOptions { ImageColumnName = "ImagePath" });
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void Image_folder_without_class_folders_is_rejected()
    {
        var dir = TempFolders.Create("diffautoml-folder").FullName;
        var e = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(_ml, dir));
        Assert.Contains("no sub-folders", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderDataset.Load(_ml, Path.Combine(dir, "missing")));
    }
}
