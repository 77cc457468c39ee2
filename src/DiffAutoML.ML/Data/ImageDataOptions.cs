namespace DiffAutoML.ML.Data;

/// <summary>How images and labels are read from an IDataView and brought to one tensor shape.</summary>
/// <remarks>Consumers copy an instance (<c>with { }</c>) when they take it, so later changes do not leak in.</remarks>
public sealed record class ImageDataOptions
{
    /// <summary>The column holding the images. Default "Image".</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The column holding the labels (key, text, number or boolean). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>How the image column holds its images; <see cref="ImageColumnKind.Auto"/> decides from its type.</summary>
    public ImageColumnKind ImageColumnKind { get; set; } = ImageColumnKind.Auto;

    /// <summary>Folder that relative paths in a path column are resolved against (default: the current folder).</summary>
    public string? ImageFolder { get; set; }

    /// <summary>Channels of the training tensor: 1 (grey) or 3 (RGB); null = 1 when every image is grey, else 3.</summary>
    public int? Channels { get; set; }

    /// <summary>Training image height in pixels; null = automatic (<see cref="AutomaticMaxSide"/>). Other sizes are resized.</summary>
    public int? Height { get; set; }

    /// <summary>Training image width in pixels; null = automatic (<see cref="AutomaticMaxSide"/>).</summary>
    public int? Width { get; set; }

    /// <summary>
    /// Longest side of an automatic training size. When Height and Width are both null the training size is a typical
    /// image's (of the first 512 rows, the one with the median aspect ratio), scaled down (aspect ratio kept) when its
    /// longer side is over this; when one of them is set, the other follows that image's aspect ratio. Null (the default) = the search space's own
    /// (<see cref="Search.SearchSpaceOptions.AutomaticInputSide"/>: 64 pixels for the Compact preset, 224 for Paper) in
    /// the estimator, and <see cref="StandaloneAutomaticMaxSide"/> when the data are loaded without one. Without a
    /// limit a folder of 12-megapixel photos would train at full resolution, which needs tens of gigabytes for one step.
    /// Pixel vectors keep their size (the deployed model cannot resize them).
    /// </summary>
    public int? AutomaticMaxSide { get; set; }

    /// <summary>The automatic size's longest side when the data are loaded outside the estimator (the Paper preset's
    /// input side).</summary>
    public const int StandaloneAutomaticMaxSide = 224;

    /// <summary>Shape (channels, height, width) of a pixel-vector column whose type does not carry it.</summary>
    public (int Channels, int Height, int Width)? PixelVectorShape { get; set; }

    /// <summary>Value order of a pixel-vector column.</summary>
    public PixelLayout PixelVectorLayout { get; set; } = PixelLayout.Chw;

    /// <summary>Largest image (width times height) that is decoded; larger ones are rejected before decoding
    /// (decompression bombs). Default 40 million pixels.</summary>
    public long MaxImagePixels { get; set; } = 40_000_000;

    /// <summary>Largest image cache, in bytes; null = half of the memory available to the process.</summary>
    public long? MaxCacheBytes { get; set; }

    /// <summary>Skip rows whose image or label is bad (and count them) instead of throwing.</summary>
    public bool SkipBadRows { get; set; }

    /// <summary>Checks values that are wrong whatever the data; throws <see cref="ArgumentOutOfRangeException"/>.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ImageColumnName)) throw new ArgumentException("ImageColumnName must name a column.", nameof(ImageColumnName));
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw new ArgumentException("LabelColumnName must name a column.", nameof(LabelColumnName));
        if (Channels is not (null or 1 or 3)) throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "Channels must be 1, 3 or null (automatic).");
        if (Height is <= 0 or > 4096) throw new ArgumentOutOfRangeException(nameof(Height), Height, "Height must be between 1 and 4096 pixels.");
        if (Width is <= 0 or > 4096) throw new ArgumentOutOfRangeException(nameof(Width), Width, "Width must be between 1 and 4096 pixels.");
        if (PixelVectorShape is { } s && (s.Channels is not (1 or 3) || s.Height <= 0 || s.Width <= 0))
            throw new ArgumentOutOfRangeException(nameof(PixelVectorShape), s, "PixelVectorShape needs 1 or 3 channels and a positive height and width.");
        if (AutomaticMaxSide is <= 0 or > 4096) throw new ArgumentOutOfRangeException(nameof(AutomaticMaxSide), AutomaticMaxSide, "AutomaticMaxSide must be between 1 and 4096 pixels.");
        if (MaxImagePixels <= 0) throw new ArgumentOutOfRangeException(nameof(MaxImagePixels), MaxImagePixels, "MaxImagePixels must be positive.");
        if (MaxCacheBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(MaxCacheBytes), MaxCacheBytes, "MaxCacheBytes must be positive.");
    }
}
