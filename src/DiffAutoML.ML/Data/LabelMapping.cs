using System.Globalization;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Data;

/// <summary>What kind of values the user's label column holds.</summary>
public enum LabelKind
{
    /// <summary>A key type; class i is key value i + 1.</summary>
    Key,
    /// <summary>Text values.</summary>
    Text,
    /// <summary>Numbers (any numeric column type).</summary>
    Number,
    /// <summary>Booleans.</summary>
    Boolean,
}

/// <summary>
/// The classes of the label column and their order: class index i (0-based, as the network sees it) stands for
/// <see cref="ClassNames"/>[i]. Kept so that predictions give back the user's own label values.
/// </summary>
public sealed class LabelMapping
{
    private readonly Dictionary<string, int> _index;

    internal LabelMapping(LabelKind kind, DataViewType valueType, IReadOnlyList<string> canonicalValues, IReadOnlyList<string> classNames)
    {
        Kind = kind;
        ValueType = valueType;
        CanonicalValues = canonicalValues;
        ClassNames = classNames;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < canonicalValues.Count; i++) _index[canonicalValues[i]] = i;
    }

    /// <summary>Kind of the label values.</summary>
    public LabelKind Kind { get; }

    /// <summary>The label column's type in the training data.</summary>
    public DataViewType ValueType { get; }

    /// <summary>Display name of each class (the label value as text; a key type's key values when it has them).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => ClassNames.Count;

    /// <summary>Each class's value in canonical text form (invariant culture; a key's 1-based value).</summary>
    internal IReadOnlyList<string> CanonicalValues { get; }

    internal bool TryGetIndex(string canonical, out int index) => _index.TryGetValue(canonical, out index);

    /// <summary>Builds the mapping for non-key labels from the values seen: numbers in numeric order, text and
    /// booleans in ordinal order, so that the class order does not depend on the row order.</summary>
    internal static LabelMapping FromValues(LabelKind kind, DataViewType valueType, IEnumerable<string> distinctCanonical)
    {
        var values = distinctCanonical.Distinct(StringComparer.Ordinal).ToList();
        if (kind == LabelKind.Number)
            values.Sort((a, b) => double.Parse(a, CultureInfo.InvariantCulture).CompareTo(double.Parse(b, CultureInfo.InvariantCulture)));
        else
            values.Sort(StringComparer.Ordinal);
        return new LabelMapping(kind, valueType, values, values);
    }

    internal static LabelMapping ForKey(KeyDataViewType keyType, IReadOnlyList<string>? keyValues)
    {
        int count = checked((int)keyType.Count);
        var canonical = Enumerable.Range(1, count).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray();
        var names = keyValues is { } kv && kv.Count == count ? kv : canonical;
        return new LabelMapping(LabelKind.Key, keyType, canonical, names);
    }
}
