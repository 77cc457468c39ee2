using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Data;

/// <summary>
/// Reads label values in a canonical text form (null when missing: an empty text, NaN, or key value 0),
/// whatever the label column's type.
/// </summary>
internal sealed class LabelColumnReader
{
    public LabelColumnReader(DataViewSchema schema, string columnName)
    {
        Column = SchemaChecks.FindColumn(schema, columnName, "label");
        var type = Column.Type;
        Kind = type switch
        {
            KeyDataViewType k when k.Count > 0 && k.Count <= int.MaxValue => LabelKind.Key,
            KeyDataViewType => throw SchemaChecks.WrongType(Column, "label", "a key type with a known, finite number of values"),
            TextDataViewType => LabelKind.Text,
            BooleanDataViewType => LabelKind.Boolean,
            NumberDataViewType => LabelKind.Number,
            _ => throw SchemaChecks.WrongType(Column, "label", "a key, text, number or boolean scalar"),
        };
    }

    public DataViewSchema.Column Column { get; }

    public LabelKind Kind { get; }

    /// <summary>The mapping a key-typed column defines by itself (null for other kinds).</summary>
    public LabelMapping? KeyMapping()
    {
        if (Column.Type is not KeyDataViewType key) return null;
        IReadOnlyList<string>? names = null;
        if (Column.HasKeyValues())
        {
            var annotationType = Column.Annotations.Schema.GetColumnOrNull("KeyValues")?.Type as VectorDataViewType;
            if (annotationType?.ItemType is TextDataViewType)
            {
                VBuffer<ReadOnlyMemory<char>> values = default;
                Column.GetKeyValues(ref values);
                names = values.DenseValues().Select(v => v.ToString()).ToArray();
            }
        }
        return LabelMapping.ForKey(key, names);
    }

    public Func<string?> CreateGetter(DataViewRowCursor cursor)
    {
        var type = Column.Type;
        if (type is KeyDataViewType)
        {
            return type.RawType switch
            {
                Type t when t == typeof(uint) => Make<uint>(k => k == 0 ? null : Inv(k)),
                Type t when t == typeof(byte) => Make<byte>(k => k == 0 ? null : Inv(k)),
                Type t when t == typeof(ushort) => Make<ushort>(k => k == 0 ? null : Inv(k)),
                Type t when t == typeof(ulong) => Make<ulong>(k => k == 0 ? null : Inv(k)),
                _ => throw SchemaChecks.WrongType(Column, "label", "a key type"),
            };
        }
        if (type is TextDataViewType) return Make<ReadOnlyMemory<char>>(v => { var s = v.ToString().Trim(); return s.Length == 0 ? null : s; });
        if (type is BooleanDataViewType) return Make<bool>(v => v ? "True" : "False");
        return type.RawType switch
        {
            Type t when t == typeof(float) => Make<float>(v => float.IsFinite(v) ? Inv((double)v) : null),
            Type t when t == typeof(double) => Make<double>(v => double.IsFinite(v) ? Inv(v) : null),
            Type t when t == typeof(int) => Make<int>(v => Inv(v)),
            Type t when t == typeof(uint) => Make<uint>(v => Inv(v)),
            Type t when t == typeof(long) => Make<long>(v => Inv(v)),
            Type t when t == typeof(ulong) => Make<ulong>(v => Inv(v)),
            Type t when t == typeof(short) => Make<short>(v => Inv(v)),
            Type t when t == typeof(ushort) => Make<ushort>(v => Inv(v)),
            Type t when t == typeof(byte) => Make<byte>(v => Inv(v)),
            Type t when t == typeof(sbyte) => Make<sbyte>(v => Inv(v)),
            _ => throw SchemaChecks.WrongType(Column, "label", "a key, text, number or boolean scalar"),
        };

        Func<string?> Make<T>(Func<T, string?> convert)
        {
            var get = cursor.GetGetter<T>(Column);
            T value = default!;
            return () => { get(ref value); return convert(value); };
        }
    }

    private static string Inv<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
