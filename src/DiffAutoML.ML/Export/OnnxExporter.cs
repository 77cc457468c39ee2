using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Export;

/// <summary>
/// Writes a <see cref="ChildNetwork"/> as an ONNX model (IR 8, opset 13) that ONNX Runtime and ML.NET's
/// ApplyOnnxModel can score without TorchSharp.
/// </summary>
/// <remarks>
/// Graph: input "pixels" float [N, C*H*W] (values 0..255, in <see cref="PixelLayout"/> order) -> reshape to NCHW ->
/// normalization ((x / 255 - mean) / std, as one Mul and one Add) -> stem -> blocks -> tail -> global average pool ->
/// Gemm -> outputs "logits" and "probabilities" (softmax), both [N, classes]. Batch norm is folded into the preceding
/// convolution (eval mode). The stride-1 channel split is two Slice nodes with step 2 (even and odd channels);
/// dropout is the identity at inference and is left out. With test-time views (<see cref="TestTimeViews"/>: the flip,
/// one-pixel shifts or both) the pixel batch is stacked into its V views before normalization (a shift is a Pad with
/// the fill value and a Slice, a mirror a Slice with step -1), all go through the network as one batch of V N, and the
/// outputs are the mean of the V softmax outputs ("probabilities") and its logarithm ("logits", computed as log-sum-exp
/// of the V log-softmax outputs minus log V, which cannot underflow to log 0).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>Name of the graph input in a standalone export.</summary>
    public const string InputName = "pixels";

    /// <summary>Name of the softmax output in a standalone export.</summary>
    public const string ProbabilitiesName = "probabilities";

    /// <summary>Name of the logits output in a standalone export.</summary>
    public const string LogitsName = "logits";

    /// <summary>Metadata key of the class names, a JSON array in the order of the outputs' columns.</summary>
    public const string ClassesKey = "classes";

    /// <summary>Metadata key of the input image shape, "CxHxW" (for example "1x28x28").</summary>
    public const string InputShapeKey = "input_shape";

    /// <summary>Metadata key of the order of the pixels in the input vector, "Chw" or "Hwc".</summary>
    public const string InputLayoutKey = "input_layout";

    /// <summary>Metadata key of the network's blocks, as <see cref="ChildNetwork.Architecture"/> writes them.</summary>
    public const string ArchitectureKey = "architecture";

    /// <summary>The model as ONNX bytes, with the standalone names (pixels -> logits, probabilities);
    /// <paramref name="views"/> (null: the image alone) averages each image's outputs over its test-time views;
    /// <paramref name="classNames"/>, when given, are stored in the model's metadata under <see cref="ClassesKey"/>.</summary>
    public static byte[] Export(ChildNetwork child, ChannelStatistics statistics, PixelLayout inputLayout = PixelLayout.Chw, TestTimeViews? views = null,
        IReadOnlyList<string>? classNames = null)
        // No slot-name node: it is for ML.NET, and it would need the ai.onnx.ml domain from every other runtime.
        => Export(child, statistics, inputLayout, InputName, LogitsName, ProbabilitiesName, views, classNames, slotNames: false);

    /// <summary>The model as ONNX bytes with chosen input and output names (the ML.NET chain uses names that cannot
    /// collide with the user's columns); <paramref name="classNames"/>, when given, become the slot names of the
    /// probabilities column in ML.NET (<see cref="OnnxGraph.SlotNames"/>) and the model metadata's <see cref="ClassesKey"/>;
    /// <paramref name="anyInputLength"/> declares the input's second dimension unknown (the graph still reshapes it to
    /// C x H x W), so that ML.NET's ApplyOnnxModel accepts a vector column of unknown size, which is what a custom
    /// mapping's output is once a model is loaded (<see cref="ScoringChainBuilder"/>, pixel vectors).</summary>
    internal static byte[] Export(ChildNetwork child, ChannelStatistics statistics, PixelLayout inputLayout, string inputName, string logitsName, string probabilitiesName,
        TestTimeViews? views, IReadOnlyList<string>? classNames = null, bool anyInputLength = false)
        => Export(child, statistics, inputLayout, inputName, logitsName, probabilitiesName, views, classNames, slotNames: true, anyInputLength);

    private static byte[] Export(ChildNetwork child, ChannelStatistics statistics, PixelLayout inputLayout, string inputName, string logitsName, string probabilitiesName,
        TestTimeViews? views, IReadOnlyList<string>? classNames, bool slotNames, bool anyInputLength = false)
    {
        ArgumentNullException.ThrowIfNull(child);
        ArgumentNullException.ThrowIfNull(statistics);
        views ??= TestTimeViews.None;
        int viewCount = views.Count;
        var space = child.Space;
        int c = space.Options.InputChannels, h = space.Options.Height!.Value, w = space.Options.Width!.Value;
        if (statistics.Mean.Length != c) throw new ArgumentException($"Statistics for {statistics.Mean.Length} channels; the network takes {c}.", nameof(statistics));
        var weights = child.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().to(ScalarType.Float64).contiguous().data<double>().ToArray());
        double eps = space.Options.BatchNormEpsilon;
        var g = new OnnxGraph();
        g.Input(inputName, null, anyInputLength ? null : c * h * w);

        string x = inputLayout == PixelLayout.Chw
            ? g.Node("Reshape", new[] { inputName, g.Constant("shape", new long[] { -1, c, h, w }, 4) })
            : g.Node("Transpose", new[] { g.Node("Reshape", new[] { inputName, g.Constant("shape", new long[] { -1, h, w, c }, 4) }) }, ("perm", new long[] { 0, 3, 1, 2 }));
        if (viewCount > 1) x = StackViews(g, x, views, h, w);
        var scale = statistics.Std.Select(s => 1f / (255f * s)).ToArray();
        var shift = statistics.Mean.Zip(statistics.Std, (m, s) => -m / s).ToArray();
        x = g.Node("Add", new[] { g.Node("Mul", new[] { x, g.Constant("scale", scale, 1, c, 1, 1) }), g.Constant("shift", shift, 1, c, 1, 1) });

        x = Convolutions(g, x, new[] { space.Stem }, "stem", weights, eps);
        foreach (var layer in space.Layers)
        {
            var plan = layer.Plan((BlockChoice)child.Path[layer.Index]);
            var prefix = $"blocks.{layer.Index}";
            if (!plan.Widens)
            {
                long channels = plan.InChannels;
                string Half(long start) => g.Node("Slice", new[] { x, g.Constant("starts", new[] { start }, 1), g.Constant("ends", new[] { channels }, 1),
                    g.Constant("axes", new long[] { 1 }, 1), g.Constant("steps", new long[] { 2 }, 1) });
                var even = Half(0);
                var main = Convolutions(g, Half(1), plan.Main, prefix + ".main", weights, eps);
                x = g.Node("Concat", new[] { even, main }, ("axis", 1L));
            }
            else
            {
                var projection = Convolutions(g, x, plan.Projection, prefix + ".projection", weights, eps);
                var main = Convolutions(g, x, plan.Main, prefix + ".main", weights, eps);
                x = g.Node("Concat", new[] { projection, main }, ("axis", 1L));
            }
        }
        x = Convolutions(g, x, new[] { space.Tail }, "tail", weights, eps);
        x = g.Node("Flatten", new[] { g.Node("GlobalAveragePool", new[] { x }) }, ("axis", 1L));
        long classes = space.Classes, features = space.Tail.OutChannels;
        var classifier = new[] { x, g.Constant("classifier_weight", ToFloat(weights["classifier.weight"]), classes, features),
            g.Constant("classifier_bias", ToFloat(weights["classifier.bias"]), classes) };
        if (viewCount > 1)
        {
            // Rows v N .. v N + N - 1 hold view v: [V N, K] -> [V, N, K], then
            // log((1/V) sum_v p_v) = logsumexp_v(log p_v) - log V over the first axis.
            var logSoftmax = g.Node("LogSoftmax", new[] { g.Node("Gemm", classifier, ("transB", 1L)) }, ("axis", 1L));
            var perView = g.Node("Reshape", new[] { logSoftmax, g.Constant("shape", new long[] { viewCount, -1, classes }, 3) });
            g.NodeTo(logitsName, "Sub", new[] { g.Node("ReduceLogSumExp", new[] { perView }, ("axes", new long[] { 0 }), ("keepdims", 0L)),
                g.Constant("log_views", new[] { MathF.Log(viewCount) }, 1) });
        }
        else
        {
            g.NodeTo(logitsName, "Gemm", classifier, ("transB", 1L));
        }
        g.NodeTo(probabilitiesName, "Softmax", new[] { logitsName }, ("axis", 1L));
        g.Output(logitsName, null, classes);
        g.Output(probabilitiesName, null, classes);
        if (classNames is not null)
        {
            if (classNames.Count != classes) throw new ArgumentException($"{classNames.Count} class names for {classes} classes.", nameof(classNames));
            if (slotNames) g.SlotNames(probabilitiesName, classNames);
        }
        var version = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0";
        var averaging = viewCount > 1 ? $"; outputs averaged over {viewCount} views of each image ({Describe(views)})" : "";
        // What a program outside .NET needs to feed the model and name its outputs, in a form it can parse.
        var metadata = new List<KeyValuePair<string, string>>
        {
            new(InputShapeKey, $"{c}x{h}x{w}"),
            new(InputLayoutKey, inputLayout.ToString()),
            new(ArchitectureKey, child.Architecture),
        };
        if (classNames is not null) metadata.Add(new(ClassesKey, System.Text.Json.JsonSerializer.Serialize(classNames)));
        return g.ToModel("DiffAutoMLChild", version, $"DiffAutoML child network: {child.Architecture}; input {c}x{h}x{w} pixels 0..255, {inputLayout}{averaging}", metadata);
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically (written aside, then renamed).</summary>
    public static void Save(ChildNetwork child, ChannelStatistics statistics, string path, PixelLayout inputLayout = PixelLayout.Chw, TestTimeViews? views = null)
    {
        IO.AtomicFile.WriteAllBytes(path, Export(child, statistics, inputLayout, views));
    }

    /// <summary>The views of <see cref="TestTimeViews.Stack"/> as graph nodes, on the pixels before normalization (so
    /// that the fill is a pixel value): [N, C, H, W] -> [V N, C, H, W], view-major, mirrors after the shifted views.</summary>
    private static string StackViews(OnnxGraph g, string x, TestTimeViews views, long h, long w)
    {
        var stacked = new List<string>();
        if (views.Shift)
        {
            // One pixel of the fill on each side of H and W; the view shifted by (dx, dy) is the window at (1 + dy, 1 + dx).
            var padded = g.Node("Pad", new[] { x, g.Constant("view_pads", new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }, 8), g.Constant("view_fill", new[] { (float)views.FillValue }) });
            foreach (var (dx, dy) in views.Shifts)
                stacked.Add(g.Node("Slice", new[] { padded, g.Constant("starts", new long[] { 1 + dy, 1 + dx }, 2), g.Constant("ends", new long[] { 1 + dy + h, 1 + dx + w }, 2),
                    g.Constant("axes", new long[] { 2, 3 }, 2) }));
        }
        else stacked.Add(x);
        var shifted = stacked.Count == 1 ? stacked[0] : g.Node("Concat", stacked.ToArray(), ("axis", 0L));
        if (!views.Flip) return shifted;
        // Width reversed by a Slice with step -1 (from the last column to before the first), stacked under the batch.
        var mirrored = g.Node("Slice", new[] { shifted, g.Constant("starts", new long[] { -1 }, 1), g.Constant("ends", new[] { long.MinValue }, 1),
            g.Constant("axes", new long[] { 3 }, 1), g.Constant("steps", new long[] { -1 }, 1) });
        return g.Node("Concat", new[] { shifted, mirrored }, ("axis", 0L));
    }

    private static string Describe(TestTimeViews views)
        => string.Join(" and ", new[] { views.Shift ? "its four one-pixel shifts" : null, views.Flip ? "left-right mirror images" : null }.OfType<string>());

    private static string Convolutions(OnnxGraph g, string x, IReadOnlyList<ConvSpec> specs, string prefix, Dictionary<string, double[]> weights, double eps)
    {
        for (int i = 0; i < specs.Count; i++)
        {
            var s = specs[i];
            var (kernel, bias) = FoldBatchNorm(weights, $"{prefix}.conv{i}", $"{prefix}.bn{i}", eps);
            long inPerGroup = s.Depthwise ? 1 : s.InChannels;
            x = g.Node("Conv", new[] { x, g.Constant("w", kernel, s.OutChannels, inPerGroup, s.Kernel, s.Kernel), g.Constant("b", bias, s.OutChannels) },
                ("kernel_shape", new long[] { s.Kernel, s.Kernel }), ("strides", new long[] { s.Stride, s.Stride }),
                ("pads", Enumerable.Repeat((long)(s.Kernel / 2), 4).ToArray()), ("group", (long)(s.Depthwise ? s.InChannels : 1)));
            if (s.Relu) x = g.Node("Relu", new[] { x });
        }
        return x;
    }

    /// <summary>conv(x) followed by batch norm in eval mode = conv with W' = W k and bias b' = beta - mean k,
    /// k = gamma / sqrt(var + eps) per output channel (computed in double precision).</summary>
    private static (float[] Kernel, float[] Bias) FoldBatchNorm(Dictionary<string, double[]> weights, string conv, string bn, double eps)
    {
        var w = weights[conv + ".weight"];
        var gamma = weights[bn + ".weight"];
        var beta = weights[bn + ".bias"];
        var mean = weights[bn + ".running_mean"];
        var variance = weights[bn + ".running_var"];
        int outChannels = gamma.Length, perChannel = w.Length / outChannels;
        var kernel = new float[w.Length];
        var bias = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            double k = gamma[o] / Math.Sqrt(variance[o] + eps);
            for (int j = 0; j < perChannel; j++) kernel[o * perChannel + j] = (float)(w[o * perChannel + j] * k);
            bias[o] = (float)(beta[o] - mean[o] * k);
        }
        return (kernel, bias);
    }

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();
}
