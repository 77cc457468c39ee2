using DiffAutoML.ML.Native;
using Microsoft.ML;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Data;

/// <summary>Reads an IDataView of images and labels into an <see cref="ImageTensorCache"/>.</summary>
public static class ImageDataLoader
{
    private const int ChunkRows = 512;

    /// <summary>How many rows, at most, the automatic training size looks at (<see cref="TypicalSize"/>): the first chunk's.</summary>
    internal const int TypicalSizeRows = ChunkRows;
    private const int MaxSkipReasons = 20;

    /// <summary>
    /// Decodes every row once and caches the images as a uint8 tensor. Pass the training set's
    /// <paramref name="labelMapping"/> when loading a validation or test set, so that both share class indices.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    /// <exception cref="ImageDataException">A row's image or label is bad (unless SkipBadRows).</exception>
    /// <exception cref="InvalidOperationException">No usable rows, one class only, or the cache would not fit in memory.</exception>
    public static ImageTensorCache Load(IDataView data, ImageDataOptions options, LabelMapping? labelMapping = null, CancellationToken cancellation = default)
        => Load(data, options, labelMapping, cancellation, null);

    /// <summary>As the public overload, telling <paramref name="progress"/> how many images are decoded.</summary>
    internal static ImageTensorCache Load(IDataView data, ImageDataOptions options, LabelMapping? labelMapping, CancellationToken cancellation,
        LoadingProgress? progress)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options = options with { };
        options.Validate();

        var imageReader = new ImageColumnReader(data.Schema, options);
        var labelReader = new LabelColumnReader(data.Schema, options.LabelColumnName);
        if (labelMapping is not null && labelMapping.Kind != labelReader.Kind)
            throw new ArgumentOutOfRangeException(options.LabelColumnName,
                $"The label column '{options.LabelColumnName}' holds {labelReader.Kind} values here but {labelMapping.Kind} values in the training data.");
        // Without a mapping this is training data, which needs two classes at least; a test set may hold one.
        bool isTraining = labelMapping is null;
        labelMapping ??= labelReader.KeyMapping();

        var decoder = new ImageDecoder(options.MaxImagePixels);
        long maxBytes = options.MaxCacheBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        int? height = options.Height, width = options.Width;
        (int, int)? scaledDownFrom = null;
        if (imageReader.PixelShape is { } shape) { height ??= shape.Height; width ??= shape.Width; }
        // Until the channel count is known every image is kept as RGB; grey data is reduced to one channel at the end.
        int storedChannels = options.Channels ?? 3;

        // Created on the first image that needs resizing (height and width are known by then).
        var resizer = new Lazy<ScoringChainResizer>(() => new ScoringChainResizer(width!.Value, height!.Value), LazyThreadSafetyMode.ExecutionAndPublication);
        using var disposeResizer = new ResizerDisposal(resizer);
        var chunks = new List<byte[]>();
        var labels = new List<string>();
        int decodedImages = 0;
        var skipReasons = new List<string>();
        int skipped = 0;
        bool allGrey = true;
        long row = -1;

        using (var cursor = data.GetRowCursor(new[] { imageReader.Column, labelReader.Column }))
        {
            var getImage = imageReader.CreateGetter(cursor, decoder);
            var getLabel = labelReader.CreateGetter(cursor);
            var pending = new List<(long Row, RawImage Image, string Label)>(ChunkRows);
            while (true)
            {
                bool more = cursor.MoveNext();
                if (more)
                {
                    row = cursor.Position;
                    try
                    {
                        string label = getLabel() ?? throw new ImageDataException(options.LabelColumnName, row, null,
                            "the label is missing (empty text, NaN or key value 0)");
                        if (labelMapping is not null && !labelMapping.TryGetIndex(label, out _))
                            throw new ImageDataException(options.LabelColumnName, row, null,
                                $"the label '{label}' is not one of the training classes ({string.Join(", ", labelMapping.ClassNames.Take(20))})");
                        RawImage image;
                        try { image = getImage(); }
                        catch (InvalidDataException e) { throw new ImageDataException(options.ImageColumnName, row, null, e.Message, e); }
                        pending.Add((row, image, label));
                    }
                    catch (ImageDataException e) when (options.SkipBadRows)
                    {
                        Skip(e);
                    }
                }
                if (pending.Count == ChunkRows || (!more && pending.Count > 0))
                {
                    cancellation.ThrowIfCancellationRequested();
                    if (height is null || width is null)
                    {
                        var typical = TypicalSize(pending.Select(p => HeaderSize(p.Image)).OfType<(int Height, int Width)>().ToList());
                        // No header could be read: each of these images fails when decoded, which names the problem (or skips the row).
                        int bad = 0;
                        while (typical is null && bad < pending.Count)
                        {
                            try
                            {
                                using var image = Materialize(pending[bad].Row, pending[bad].Image, null);
                                typical = (image.Height, image.Width);
                            }
                            catch (ImageDataException e) when (options.SkipBadRows)
                            {
                                Skip(e);
                                pending[bad++].Image.Decoded?.Dispose();
                            }
                        }
                        pending.RemoveRange(0, bad);
                        if (typical is var (typicalHeight, typicalWidth))
                        {
                            (height, width) = AutomaticSize(typicalHeight, typicalWidth, height, width, options.AutomaticMaxSide ?? ImageDataOptions.StandaloneAutomaticMaxSide);
                            if (options.Height is null && options.Width is null && (height, width) != (typicalHeight, typicalWidth)) scaledDownFrom = (typicalHeight, typicalWidth);
                        }
                    }
                    if (pending.Count > 0) DecodeChunk(pending);
                    pending.Clear();
                }
                if (!more) break;
            }
        }

        if (labels.Count == 0)
            throw new InvalidOperationException(row < 0
                ? "The data has no rows: there is nothing to train on."
                : $"None of the {row + 1} rows could be used ({skipped} skipped as bad). First reason: {skipReasons.FirstOrDefault()}");
        labelMapping ??= LabelMapping.FromValues(labelReader.Kind, labelReader.Column.Type, labels);

        var labelIndices = new long[labels.Count];
        for (int i = 0; i < labels.Count; i++)
        {
            labelMapping.TryGetIndex(labels[i], out int index);
            labelIndices[i] = index;
        }

        if (isTraining && labelIndices.Distinct().Count() < 2)
            throw new InvalidOperationException(
                $"The label column '{options.LabelColumnName}' has only one class ('{labelMapping.ClassNames[(int)labelIndices[0]]}'): at least two are needed to train a classifier.");

        TorchRuntime.EnsureCpu();
        int channels = options.Channels ?? (allGrey ? 1 : 3);
        var images = BuildTensor(chunks, labels.Count, storedChannels, channels, height!.Value, width!.Value);
        return new ImageTensorCache(images, labelIndices, labelMapping, skipped, skipReasons) { ScaledDownFrom = scaledDownFrom };

        void Skip(ImageDataException e)
        {
            skipped++;
            if (skipReasons.Count < MaxSkipReasons) skipReasons.Add(e.Message);
        }

        // The size an image's header gives (no decoding), or null when it cannot be read.
        (int Height, int Width)? HeaderSize(RawImage raw) => raw switch
        {
            { Decoded: { } image } => (image.Height, image.Width),
            { Encoded: { } encoded } => decoder.HeaderSize(encoded),
            { Path: { } path } => decoder.HeaderSizeOfFile(path),
            _ => null,
        };

        // With sizedBy, images ML.NET decodes are resized as decoded (ImageDecoder), others by the caller.
        Image<Rgb24> Materialize(long at, RawImage raw, ScoringChainResizer? sizedBy)
        {
            try
            {
                if (raw.Decoded is { } decoded) return decoded.Clone();
                if (raw.Encoded is { } encoded) return decoder.DecodeBytes(encoded, sizedBy);
                if (raw.Path is { } path) return decoder.DecodeFile(path, sizedBy);
                var (c, h, w) = imageReader.PixelShape!.Value;
                return decoder.FromPixels(raw.Pixels, c, h, w, options.PixelVectorLayout);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                throw new ImageDataException(options.ImageColumnName, at, raw.Path, e.Message, e);
            }
        }

        void DecodeChunk(List<(long Row, RawImage Image, string Label)> items)
        {
            int h = height!.Value, w = width!.Value, perImage = storedChannels * h * w;
            var buffer = new byte[(long)items.Count * perImage];
            var errors = new ImageDataException?[items.Count];
            var grey = new bool[items.Count];
            Parallel.For(0, items.Count, new ParallelOptions { CancellationToken = cancellation }, i =>
            {
                try
                {
                    using var image = Materialize(items[i].Row, items[i].Image, resizer.Value);
                    using var resized = image.Width == w && image.Height == h ? null : resizer.Value.Resize(image);
                    grey[i] = ImageDecoder.WriteChw(resized ?? image, storedChannels, buffer.AsSpan(i * perImage, perImage));
                }
                catch (ImageDataException e)
                {
                    errors[i] = e;
                }
                finally
                {
                    items[i].Image.Decoded?.Dispose();
                    progress?.Decoded(Interlocked.Increment(ref decodedImages));
                }
            });
            int kept = 0;
            for (int i = 0; i < items.Count; i++)
            {
                if (errors[i] is { } error)
                {
                    if (!options.SkipBadRows) throw error;
                    Skip(error);
                    continue;
                }
                if (kept != i) Array.Copy(buffer, (long)i * perImage, buffer, (long)kept * perImage, perImage);
                allGrey &= grey[i];
                labels.Add(items[i].Label);
                kept++;
            }
            long total = (long)labels.Count * perImage;
            if (total > maxBytes)
                throw new InvalidOperationException(
                    $"The image cache would need more than {maxBytes / (1 << 20)} MiB (at row {items[^1].Row}, {labels.Count} images of {storedChannels}x{h}x{w}). " +
                    "Lower Height/Width, set Channels to 1 for grey images, or raise MaxCacheBytes.");
            chunks.Add(kept == items.Count ? buffer : buffer.AsSpan(0, kept * perImage).ToArray());
        }
    }

    /// <summary>
    /// The size of the image whose aspect ratio is the median of <paramref name="sizes"/> (the upper median; among equal
    /// ratios the earliest row), or null for none: the automatic training size follows it, not whichever image comes
    /// first (a panorama first in the folder (300x60) stretched every other image to 64x13).
    /// </summary>
    internal static (int Height, int Width)? TypicalSize(IReadOnlyList<(int Height, int Width)> sizes)
        => sizes.Count == 0 ? null : sizes.OrderBy(s => s.Width / (double)s.Height).ElementAt(sizes.Count / 2);

    /// <summary>The training size from a typical image's size (<see cref="TypicalSize"/>) and the sides the user set (<see cref="ImageDataOptions.AutomaticMaxSide"/>).</summary>
    internal static (int Height, int Width) AutomaticSize(int firstHeight, int firstWidth, int? height, int? width, int maxSide)
    {
        static int Scaled(int side, double factor) => Math.Min(4096, Math.Max(1, (int)Math.Round(side * factor)));
        double shrink = Math.Min(1, maxSide / (double)Math.Max(firstHeight, firstWidth));
        return (height, width) switch
        {
            (int h, int w) => (h, w),
            (int h, null) => (h, Scaled(firstWidth, h / (double)firstHeight)),
            (null, int w) => (Scaled(firstHeight, w / (double)firstWidth), w),
            _ => (Scaled(firstHeight, shrink), Scaled(firstWidth, shrink)),
        };
    }

    private static Tensor BuildTensor(List<byte[]> chunks, int count, int storedChannels, int channels, int height, int width)
    {
        int plane = height * width;
        var all = new byte[(long)count * channels * plane];
        long offset = 0;
        foreach (var chunk in chunks)
        {
            if (storedChannels == channels)
            {
                Array.Copy(chunk, 0, all, offset, chunk.Length);
                offset += chunk.Length;
            }
            else
            {
                // RGB kept while the channel count was unknown, and every image was grey: keep channel 0.
                for (long src = 0; src < chunk.Length; src += 3 * plane, offset += plane)
                    Array.Copy(chunk, src, all, offset, plane);
            }
        }
        return tensor(all, new long[] { count, channels, height, width }, ScalarType.Byte);
    }

    private readonly struct ResizerDisposal(Lazy<ScoringChainResizer> resizer) : IDisposable
    {
        public void Dispose()
        {
            if (resizer.IsValueCreated) resizer.Value.Dispose();
        }
    }
}
