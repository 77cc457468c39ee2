using Microsoft.ML;

namespace DiffAutoML.ML.Data;

/// <summary>Schema look-ups whose errors name the column and list what is there.</summary>
internal static class SchemaChecks
{
    public static DataViewSchema.Column FindColumn(DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name);
        if (column is null || column.Value.IsHidden)
        {
            var present = string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}' ({c.Type})"));
            throw new ArgumentOutOfRangeException(name,
                $"The {role} column '{name}' is not in the data. Columns present: {(present.Length == 0 ? "none" : present)}.");
        }
        return column.Value;
    }

    public static ArgumentOutOfRangeException WrongType(DataViewSchema.Column column, string role, string expected)
        => new(column.Name, $"The {role} column '{column.Name}' has type {column.Type}; expected {expected}.");
}
