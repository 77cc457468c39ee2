using DiffAutoML.ML.Data;
using DiffAutoML.ML.Export;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using DiffAutoML.ML.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;

namespace DiffAutoML.ML.Tests.Export;

public class OnnxSessionOptionsTests
{
    private const string ChildVariable = "DIFFAUTOML_SESSION_GC_CHILD", NetworkVariable = "DIFFAUTOML_SESSION_GC_NETWORK";

    private sealed class PixelsRow
    {
        [VectorType(28 * 28)]
        public float[] Pixels { get; set; } = new float[28 * 28];
    }

    private static ITransformer ApplyNetwork(MLContext ml, byte[] network)
    {
        var data = ml.Data.LoadFromEnumerable(new[] { new PixelsRow() });
        return ml.Transforms.CopyColumns(OnnxExporter.InputName, nameof(PixelsRow.Pixels))
            .Append(ml.Transforms.ApplyOnnxModel(new[] { OnnxExporter.ProbabilitiesName }, new[] { OnnxExporter.InputName }, new MemoryStream(network)))
            .Fit(data);
    }

    /// <summary>A child of the default search space for 28x28 grey images (random weights): about 1 MB of ONNX, which
    /// takes ONNX Runtime long enough to load that a collection can fall within it.</summary>
    private static byte[] Network()
    {
        TorchRuntime.EnsureCpu();
        var space = new SearchSpace(new SearchSpaceOptions { InputChannels = 1, Height = 28, Width = 28 });
        using var child = new ChildNetwork(space, space.Layers.Select(layer => layer.Index % 4).ToArray());
        return OnnxExporter.Export(child, new ChannelStatistics(new[] { 0.3f }, new[] { 0.3f }));
    }

    [Fact]
    public void Sessions_created_while_the_garbage_collector_runs_do_not_crash()
    {
        // ONNX Runtime does not keep a session's options object alive while it creates the session, and ML.NET makes that
        // object as a temporary: a collection meanwhile finalized it and ONNX Runtime read freed memory (a segmentation
        // fault, which ended the test host in 2 of 17 full runs). Without the fix this child crashed, 2 runs of 2.
        if (!FreshProcess.IsChild(ChildVariable))
        {
            var path = Path.Combine(TempFolders.Create("diffautoml-session-gc").FullName, "network.onnx");
            File.WriteAllBytes(path, Network());
            FreshProcess.RunTest(typeof(OnnxSessionOptionsTests), nameof(Sessions_created_while_the_garbage_collector_runs_do_not_crash),
                ChildVariable, TimeSpan.FromMinutes(4), new Dictionary<string, string> { [NetworkVariable] = path });
            return;
        }
        var network = File.ReadAllBytes(Environment.GetEnvironmentVariable(NetworkVariable)!);
        var stop = 0;
        var collector = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            for (int i = 0; i < 300; i++)
            {
                // Every other context has ONNX session options of its own, which registering also makes safe.
                var ml = new MLContext(seed: 1);
                if (i % 2 == 1) ml.SetOnnxSessionOption(new OnnxSessionOptions { IntraOpNumThreads = 1 });
                (ApplyNetwork(ml.RegisterDiffAutoML(), network) as IDisposable)?.Dispose();
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            collector.Join();
        }
    }

    [Fact]
    public void Registering_gives_a_context_kept_session_options_unless_it_creates_its_own_or_asks_for_a_gpu()
    {
        var ml = new MLContext(seed: 1).RegisterDiffAutoML();
        var kept = ((IHostEnvironment)ml).GetOnnxSessionOption();
        Assert.NotNull(kept?.CreateSessionOptions);
        Assert.Same(kept.CreateSessionOptions(), kept.CreateSessionOptions()); // one object, held for the process
        int before = KeptOnnxSessionOptions.Requests;
        (ApplyNetwork(ml, Network()) as IDisposable)?.Dispose();
        Assert.True(KeptOnnxSessionOptions.Requests > before, "ML.NET did not create the session with the kept options");

        // Options of the context's own: they stay the context's, and their settings reach the kept options, also when
        // they change after registering.
        var own = new MLContext(seed: 1);
        var mine = new OnnxSessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
        own.SetOnnxSessionOption(mine);
        Assert.Same(mine, ((IHostEnvironment)own.RegisterDiffAutoML()).GetOnnxSessionOption());
        Assert.NotNull(mine.CreateSessionOptions);
        var first = mine.CreateSessionOptions();
        Assert.Equal(1, first.IntraOpNumThreads);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_BASIC, first.GraphOptimizationLevel);
        Assert.Same(first, mine.CreateSessionOptions());
        Assert.NotSame(first, kept.CreateSessionOptions()); // other settings, other options
        mine.IntraOpNumThreads = 2;
        Assert.Equal(2, mine.CreateSessionOptions().IntraOpNumThreads);
        Assert.Equal(1, first.IntraOpNumThreads); // a kept object never changes: sessions may still be created with it
        before = KeptOnnxSessionOptions.Requests;
        (ApplyNetwork(own, Network()) as IDisposable)?.Dispose();
        Assert.True(KeptOnnxSessionOptions.Requests > before, "ML.NET did not create the session with kept options for the context's own settings");

        // A context's own CreateSessionOptions wins.
        using var theirs = new SessionOptions();
        var creating = new MLContext(seed: 1);
        OnnxSessionOptions.CreateOnnxSessionOptions create = () => theirs;
        creating.SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = create });
        Assert.Same(create, ((IHostEnvironment)creating.RegisterDiffAutoML()).GetOnnxSessionOption()!.CreateSessionOptions);

        // ML.NET builds CUDA options for such a context itself; a CreateSessionOptions would bypass that.
        var gpu = new MLContext(seed: 1) { GpuDeviceId = 0 }.RegisterDiffAutoML();
        Assert.Null(((IHostEnvironment)gpu).GetOnnxSessionOption());
    }
}
