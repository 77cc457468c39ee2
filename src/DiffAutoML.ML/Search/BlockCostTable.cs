using System.Diagnostics;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// The measured training cost of every candidate block: milliseconds of one forward and backward pass of the block
/// alone, at the training batch size, on the training device [layer][choice]. Multiply-adds miss what a block costs on
/// a real device: on one CPU core the all-7x7 Compact child's training step took 1.88x the all-3x3 child's for 1.20x
/// the multiply-adds (docs/benchmarks.md, `block-costs`), and under a time budget a slower child gets fewer epochs.
/// </summary>
public sealed class BlockCostTable
{
    private readonly double[][] _milliseconds;

    /// <summary>Wraps measured (or saved) costs [layer][choice], in milliseconds; every entry must be positive.</summary>
    public BlockCostTable(double[][] milliseconds)
    {
        ArgumentNullException.ThrowIfNull(milliseconds);
        if (milliseconds.Length == 0 || milliseconds.Any(row => row is null || row.Length != BlockChoices.Count || row.Any(v => !(v > 0) || !double.IsFinite(v))))
            throw new ArgumentException($"Block costs need one row of {BlockChoices.Count} positive, finite milliseconds per layer.", nameof(milliseconds));
        _milliseconds = milliseconds.Select(row => (double[])row.Clone()).ToArray();
    }

    /// <summary>Milliseconds per [layer][choice] (a copy).</summary>
    public double[][] Milliseconds => _milliseconds.Select(row => (double[])row.Clone()).ToArray();

    /// <summary>Layers in the table.</summary>
    public int Layers => _milliseconds.Length;

    /// <summary>The summed cost of the chosen blocks of <paramref name="path"/>.</summary>
    public double ChildMilliseconds(IReadOnlyList<int> path) => path.Select((c, l) => _milliseconds[l][c]).Sum();

    /// <summary>The summed cost of the cheapest block of every layer among <paramref name="candidates"/> (null = all four
    /// blocks): the cost of the cheapest child a search with those candidates can return.</summary>
    public double CheapestMilliseconds(IReadOnlyList<BlockChoice>? candidates = null)
        => _milliseconds.Sum(row => row.Where((_, c) => candidates is null || candidates.Contains((BlockChoice)c)).Min());

    /// <summary>The chosen blocks' cost relative to the cheapest child of <paramref name="candidates"/> (null = all four
    /// blocks; 1 = as cheap as such a child can be). This is what <see cref="ArchitectureSearchOptions.MaxRelativeCost"/> limits.</summary>
    public double RelativeCost(IReadOnlyList<int> path, IReadOnlyList<BlockChoice>? candidates = null) => ChildMilliseconds(path) / CheapestMilliseconds(candidates);

    /// <summary>The costs in whole thousandths of the cheapest child's (for the exact budgeted choice, which adds integers).</summary>
    internal long[][] Thousandths()
    {
        double unit = CheapestMilliseconds() / 1000;
        return _milliseconds.Select(row => row.Select(v => (long)Math.Round(v / unit)).ToArray()).ToArray();
    }

    /// <summary>
    /// Times every candidate block of <paramref name="supernet"/> (on its device, in training mode): one warm-up and
    /// <paramref name="repeats"/> timed forward and backward passes on random inputs of the layer's shape, the median kept.
    /// The candidates' shared parts (a stride-1 block's pass-through half, a shared projection) cost every candidate the
    /// same and are left out. Leaves no gradients behind. With <paramref name="only"/>, the other blocks are not timed (the
    /// search cannot choose them; the timing is about 16 training steps' work, over a quarter of it the Xception block's
    /// on a CPU): each gets the largest timed cost of its layer, so that the table stays complete.
    /// </summary>
    public static BlockCostTable Measure(Supernet supernet, int batchSize, int repeats = 3, IReadOnlyList<BlockChoice>? only = null,
        CancellationToken cancellation = default)
        => MeasureTimed(supernet, batchSize, repeats, only, cancellation, out _);

    /// <summary><see cref="Measure"/>, also giving the summed time of the timed passes (warm-ups left out).</summary>
    private static BlockCostTable MeasureTimed(Supernet supernet, int batchSize, int repeats, IReadOnlyList<BlockChoice>? only,
        CancellationToken cancellation, out double timedMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(supernet);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        if (only is { Count: 0 }) throw new ArgumentException("At least one block must be timed.", nameof(only));
        var device = supernet.parameters().First().device;
        var layers = supernet.Space.Layers;
        var table = new double[layers.Count][];
        timedMilliseconds = 0;
        supernet.train();
        using var generator = new TorchSharp.torch.Generator(1); // a CPU generator: the inputs are drawn on the CPU, then moved
        foreach (var layer in layers)
        {
            cancellation.ThrowIfCancellationRequested();
            table[layer.Index] = new double[BlockChoices.Count];
            for (int c = 0; c < BlockChoices.Count; c++)
            {
                if (only is not null && !only.Contains((BlockChoice)c)) continue;
                var times = new double[repeats];
                for (int r = -1; r < repeats; r++)
                {
                    using var scope = NewDisposeScope();
                    var input = randn(new long[] { batchSize, layer.InChannels, layer.InputHeight, layer.InputWidth }, generator: generator).to(device).requires_grad_(true);
                    Synchronize(device);
                    long start = Stopwatch.GetTimestamp();
                    supernet.CandidateParts(layer.Index, c, input).Candidate.sum().backward();
                    Synchronize(device);
                    if (r >= 0) times[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
                timedMilliseconds += times.Sum();
                Array.Sort(times);
                // A block too quick for the clock still gets a positive cost.
                table[layer.Index][c] = Math.Max(times[repeats / 2], 1e-3);
            }
            if (only is not null)
            {
                double largest = table[layer.Index].Max();
                for (int c = 0; c < BlockChoices.Count; c++)
                    if (!only.Contains((BlockChoice)c)) table[layer.Index][c] = largest;
            }
        }
        supernet.zero_grad();
        return new BlockCostTable(table);
    }

    /// <summary>The batch that <see cref="MeasureWithin"/> times first, to project what the full measurement would take.</summary>
    public const int TrialBatchSize = 8;

    /// <summary>
    /// <see cref="Measure"/> within <paramref name="limit"/>: every block is first timed once at
    /// <see cref="TrialBatchSize"/> images (after a warm-up pass), and the full measurement (a warm-up and three timed
    /// passes at <paramref name="batchSize"/>) is projected from the timed passes in proportion to the batch. When the
    /// projection does not fit in what is left of the limit, the blocks are timed at the largest batch that does, or the trial's table is kept when that batch would be under
    /// twice the trial's. Costs are only compared with one another, so any common batch serves; the training batch is
    /// preferred because small batches can rank blocks differently (on a GPU they are all bound by latency). Without a
    /// limit, a folder of 128x128 photos spent 148 s of a 3-minute budget here on two CPU cores (docs/benchmarks.md,
    /// "Photos at the automatic size").
    /// </summary>
    /// <returns>The table and the batch size it was measured at.</returns>
    public static (BlockCostTable Costs, int BatchSize) MeasureWithin(Supernet supernet, int batchSize, TimeSpan limit,
        IReadOnlyList<BlockChoice>? only = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        const int repeats = 3;
        int trialBatch = Math.Min(TrialBatchSize, batchSize);
        var clock = Stopwatch.StartNew();
        var trial = MeasureTimed(supernet, trialBatch, repeats: 1, only, cancellation, out double trialPass); // a warm-up and one timed pass per block
        int batch = BatchWithin(batchSize, trialBatch, trialPass / 1000, (limit - clock.Elapsed).TotalSeconds, repeats);
        return batch == trialBatch ? (trial, trialBatch) : (Measure(supernet, batch, repeats, only, cancellation), batch);
    }

    /// <summary>The batch <see cref="MeasureWithin"/> times the blocks at, when one timed pass of every block at
    /// <paramref name="trialBatch"/> took <paramref name="trialPassSeconds"/> in all: the full measurement (a warm-up and
    /// <paramref name="repeats"/> timed passes per block) is projected in proportion to the batch, and the batch is cut to
    /// fit in <paramref name="leftSeconds"/>; under twice the trial's batch, the trial's table is kept.</summary>
    internal static int BatchWithin(int batchSize, int trialBatch, double trialPassSeconds, double leftSeconds, int repeats = 3)
    {
        if (trialBatch >= batchSize) return trialBatch;
        double projected = trialPassSeconds * ((double)batchSize / trialBatch) * (repeats + 1);
        int batch = projected <= leftSeconds ? batchSize : (int)Math.Floor(batchSize * Math.Max(0, leftSeconds) / projected);
        return batch < 2 * trialBatch ? trialBatch : batch;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }
}
