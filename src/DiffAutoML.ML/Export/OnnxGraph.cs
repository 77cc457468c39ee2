namespace DiffAutoML.ML.Export;

/// <summary>
/// Builds an ONNX model (IR version 8, opset 13) node by node: constants become initializers, node outputs get
/// unique names. Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
/// ValueInfoProto).
/// </summary>
internal sealed class OnnxGraph
{
    public const int IrVersion = 8;
    public const int Opset = 13;
    private const int FloatType = 1, StringType = 8, Int64Type = 7;
    private const string MlDomain = "ai.onnx.ml";

    private readonly List<ProtoWriter> _nodes = new();
    private readonly List<ProtoWriter> _initializers = new();
    private readonly List<ProtoWriter> _inputs = new();
    private readonly List<ProtoWriter> _outputs = new();
    private int _counter;
    private bool _usesMlDomain;

    public string Constant(string hint, float[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export needs a little-endian machine.");
        return Initializer(hint, FloatType, bytes, dims);
    }

    public string Constant(string hint, long[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return Initializer(hint, Int64Type, bytes, dims);
    }

    private string Initializer(string hint, int dataType, byte[] raw, long[] dims)
    {
        var name = $"{hint}_{_counter++}";
        _initializers.Add(new ProtoWriter().Int64s(1, dims).Int64(2, dataType).String(8, name).Bytes(9, raw));
        return name;
    }

    /// <summary>
    /// Gives the ML.NET column that output <paramref name="column"/> becomes the slot names <paramref name="names"/>:
    /// ApplyOnnxModel reads them from the keys_strings of a node named "mlnet.{column}.SlotNames", the convention of
    /// ML.NET's own ONNX export. The node is a LabelEncoder (ai.onnx.ml) of a one-element constant whose output feeds
    /// nothing, so the network's outputs do not change.
    /// </summary>
    public void SlotNames(string column, IReadOnlyList<string> names)
    {
        var input = $"mlnet.{column}.unusedInput";
        _initializers.Add(new ProtoWriter().Int64s(1, new long[] { 1, 1 }).Int64(2, StringType).String(6, "one").String(8, input));
        var node = new ProtoWriter().String(1, input).String(2, $"mlnet.{column}.unusedOutput").String(3, $"mlnet.{column}.SlotNames")
            .String(4, "LabelEncoder")
            .Message(5, new ProtoWriter().String(1, "keys_strings").Strings(9, names).Int64(20, 8))
            .Message(5, new ProtoWriter().String(1, "values_int64s").Int64s(8, Enumerable.Range(0, names.Count).Select(i => (long)i)).Int64(20, 7))
            .String(7, MlDomain);
        _nodes.Add(node);
        _usesMlDomain = true;
    }

    /// <summary>Adds a node; returns the name of its (single) output.</summary>
    public string Node(string opType, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var output = $"{opType.ToLowerInvariant()}_{_counter++}";
        NodeTo(output, opType, inputs, attributes);
        return output;
    }

    /// <summary>Adds a node writing to a chosen output name (for graph outputs).</summary>
    public void NodeTo(string output, string opType, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var node = new ProtoWriter().Strings(1, inputs).String(2, output).String(3, output).String(4, opType);
        foreach (var (name, value) in attributes)
        {
            var attribute = new ProtoWriter().String(1, name);
            switch (value)
            {
                case long i: attribute.Int64(3, i).Int64(20, 2); break;
                case int i: attribute.Int64(3, i).Int64(20, 2); break;
                case float f: attribute.Float(2, f).Int64(20, 1); break;
                case long[] ints: attribute.Int64s(8, ints).Int64(20, 7); break;
                default: throw new ArgumentException($"Unsupported attribute type {value.GetType()}.");
            }
            node.Message(5, attribute);
        }
        _nodes.Add(node);
    }

    /// <summary>Declares a float input or output; a null dimension is the symbolic batch size "N".</summary>
    public void Input(string name, params long?[] dims) => _inputs.Add(ValueInfo(name, dims));

    public void Output(string name, params long?[] dims) => _outputs.Add(ValueInfo(name, dims));

    private static ProtoWriter ValueInfo(string name, long?[] dims)
    {
        var shape = new ProtoWriter();
        // An unknown first dimension is the batch, "N"; others get names of their own (dimensions of one name must be equal).
        for (int i = 0; i < dims.Length; i++)
            shape.Message(1, dims[i] is long v ? new ProtoWriter().Int64(1, v) : new ProtoWriter().String(2, i == 0 ? "N" : $"{name}_{i}"));
        var tensorType = new ProtoWriter().Int64(1, FloatType).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }

    /// <summary>The ModelProto; <paramref name="metadata"/> becomes its metadata_props (ONNX Runtime: the model
    /// metadata's custom metadata map).</summary>
    public byte[] ToModel(string graphName, string producerVersion, string docString, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var graph = new ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, graphName);
        foreach (var i in _initializers) graph.Message(5, i);
        graph.String(10, docString);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        var model = new ProtoWriter()
            .Int64(1, IrVersion)
            .String(2, "DiffAutoML.ML")
            .String(3, producerVersion)
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int64(2, Opset));
        // LabelEncoder with keys_strings and values_int64s is version 2 of the ai.onnx.ml domain.
        if (_usesMlDomain) model.Message(8, new ProtoWriter().String(1, MlDomain).Int64(2, 2));
        foreach (var (key, value) in metadata) model.Message(14, new ProtoWriter().String(1, key).String(2, value));
        return model.ToArray();
    }
}
