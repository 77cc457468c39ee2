using static TorchSharp.torch;

namespace DiffAutoML.ML.Training;

/// <summary>Writes and reads lists of optional float tensors (optimizer momentum buffers) in checkpoints.</summary>
internal static class TensorIO
{
    public static void WriteAll(BinaryWriter writer, IReadOnlyList<Tensor?> tensors)
    {
        writer.Write(tensors.Count);
        foreach (var t in tensors)
        {
            writer.Write(t is not null);
            if (t is null) continue;
            writer.Write(t.dim());
            foreach (var d in t.shape) writer.Write(d);
            foreach (var v in t.detach().cpu().to(ScalarType.Float32).contiguous().data<float>()) writer.Write(v);
        }
    }

    public static IReadOnlyList<Tensor?> ReadAll(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        var result = new Tensor?[count];
        for (int i = 0; i < count; i++)
        {
            if (!reader.ReadBoolean()) continue;
            var shape = new long[reader.ReadInt64()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
            var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int j = 0; j < values.Length; j++) values[j] = reader.ReadSingle();
            result[i] = tensor(values, shape);
        }
        return result;
    }
}
