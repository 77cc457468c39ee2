namespace DiffAutoML.ML.Data;

/// <summary>
/// Seeded shuffled mini-batches over a fixed set of rows. The order of epoch e depends only on (seed, e), so a run
/// resumed at epoch e sees the same batches as one that never stopped.
/// </summary>
public sealed class MiniBatchSampler
{
    private readonly int[] _rows;

    /// <summary>Creates a sampler over <paramref name="rows"/>.</summary>
    public MiniBatchSampler(IReadOnlyList<int> rows, int batchSize, int seed, bool dropLast)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");
        if (rows.Count == 0) throw new ArgumentException("There are no rows to draw batches from.", nameof(rows));
        _rows = rows.ToArray();
        BatchSize = batchSize;
        Seed = seed;
        DropLast = dropLast && rows.Count >= batchSize;
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The seed the epoch orders derive from.</summary>
    public int Seed { get; }

    /// <summary>Whether a last, smaller batch is left out.</summary>
    public bool DropLast { get; }

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => DropLast ? _rows.Length / BatchSize : (_rows.Length + BatchSize - 1) / BatchSize;

    /// <summary>The batches of epoch <paramref name="epoch"/>, as row indices.</summary>
    public IEnumerable<long[]> Epoch(int epoch)
    {
        var order = (int[])_rows.Clone();
        // Not HashCode.Combine: it is randomized per process, and resumed runs must repeat the order.
        new Random(unchecked(Seed * 1_000_003 + epoch)).Shuffle(order);
        for (int b = 0; b < BatchesPerEpoch; b++)
        {
            int start = b * BatchSize;
            int count = Math.Min(BatchSize, order.Length - start);
            var batch = new long[count];
            for (int i = 0; i < count; i++) batch[i] = order[start + i];
            yield return batch;
        }
    }
}
