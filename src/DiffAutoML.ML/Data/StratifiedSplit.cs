namespace DiffAutoML.ML.Data;

/// <summary>Seeded, stratified split of row indices into a training part and a held-out validation part.</summary>
public static class StratifiedSplit
{
    /// <summary>
    /// Puts round(<paramref name="validationFraction"/> x n_c) rows of each class c in validation, but at least one
    /// when the fraction is above 0 (so that small data sets still get a validation part that sees every class), and
    /// keeps at least one row of every class in training. Both parts are returned in ascending row order.
    /// </summary>
    public static (int[] Train, int[] Validation) Split(IReadOnlyList<long> labels, int classCount, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) byClass[c] = new List<int>();
        for (int i = 0; i < labels.Count; i++) byClass[labels[i]].Add(i);

        var random = new Random(seed);
        var train = new List<int>(labels.Count);
        var validation = new List<int>();
        foreach (var rows in byClass)
        {
            var shuffled = rows.ToArray();
            random.Shuffle(shuffled);
            int take = (int)Math.Round(validationFraction * shuffled.Length);
            if (validationFraction > 0) take = Math.Max(take, 1);
            take = Math.Min(take, Math.Max(0, shuffled.Length - 1));
            validation.AddRange(shuffled.Take(take));
            train.AddRange(shuffled.Skip(take));
        }
        train.Sort();
        validation.Sort();
        return (train.ToArray(), validation.ToArray());
    }
}
