using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

// Not run beside other tests: manual_seed is process-wide, and the gate-gradient test needs its own random stream.
[Collection(HeavyTestsCollection.Name)]
public class SupernetTests
{
    [Fact]
    public void Every_layer_gets_an_architecture_signal_that_batch_norm_does_not_cancel()
    {
        // Gating a whole block output made dL/dZ ~1e-6 (zero up to batch-norm epsilon) for the layers that feed only
        // batch-normalized convolutions (here 1, 3, 7 and 9) against ~1e-2 for the others; gating the candidate's own
        // channels gives every layer a real gradient when the next stride-2 block starts with a 1x1 convolution (k3, k5,
        // k7). An Xception block starts with a depthwise convolution and its batch norm, which cancel a per-channel scale
        // too: on an all-Xception path the early layers' gradients are still ~1e-5 (docs/algorithm.md).
        TorchRuntime.EnsureCpu();
        manual_seed(3);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28, Dropout = 0 });
        foreach (var path in new[] { new int[10], new[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 } })
        {
            using var supernet = new Supernet(space) { RecordGateGradients = true, Path = path };
            supernet.train();
            using var scope = NewDisposeScope();
            nn.functional.cross_entropy(supernet.forward(randn(64, 1, 28, 28)), randint(0, 10, new long[] { 64 })).backward();
            var magnitudes = supernet.GateGradients().abs().data<float>().ToArray();
            // The old gating gave about 2e-5 of the largest for the layers it cancelled.
            Assert.True(magnitudes.Min() > 1e-3 * magnitudes.Max(), $"path {string.Join(",", path)}: |dL/dZ| = {string.Join(", ", magnitudes.Select(m => m.ToString("E1")))}");
        }
    }

    [Fact]
    public void The_supernet_and_a_child_can_be_moved_with_every_parameter_following()
    {
        // Module.to walks every module's members by name; a TorchSharp container with two indexers (ModuleDict) made
        // that throw, so the supernet could not be moved to a GPU. A dtype change takes the same path on the CPU.
        TorchRuntime.EnsureCpu();
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        using var supernet = new Supernet(space) { Path = new[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 } };
        supernet.to(ScalarType.Float64);
        Assert.All(supernet.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        using var scope = NewDisposeScope();
        supernet.eval();
        Assert.Equal(new long[] { 2, 10 }, supernet.forward(zeros(2, 1, 28, 28, ScalarType.Float64)).shape);
        using var child = supernet.ExtractChild(supernet.Path);
        child.to(ScalarType.Float64);
        Assert.All(child.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
    }

    public SupernetTests() => TorchRuntime.EnsureCpu();

    [Theory]
    [InlineData(1, 0, 1, 2, 3, true, false, false)]
    [InlineData(3, 3, 2, 1, 0, true, false, false)]
    [InlineData(1, 2, 3, 0, 1, false, false, false)]
    [InlineData(1, 0, 1, 2, 3, true, true, false)]
    [InlineData(3, 1, 0, 3, 2, false, true, false)] // kernels cut in the candidates' own projections too
    [InlineData(1, 3, 2, 1, 0, true, true, true)] // widening layers at stride 1 (StageStrides 1,1,2,2)
    [InlineData(3, 2, 3, 0, 1, false, false, true)]
    public void Extracted_child_forward_equals_the_supernet_forward_on_its_path(int channels, int a, int b, int c, int d, bool sharedProjections, bool sharedKernels, bool firstStagesAtStride1)
    {
        manual_seed(7);
        var space = new SearchSpace(new SearchSpaceOptions
        {
            Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 1, 1, 1, 1 }, InputChannels = channels, Height = 20, Width = 18,
            SharedProjections = sharedProjections, SharedKernels = sharedKernels, StageStrides = firstStagesAtStride1 ? new[] { 1, 1, 2, 2 } : null,
        });
        Assert.Equal(firstStagesAtStride1 ? (5, 5) : (2, 2), (space.FinalHeight, space.FinalWidth));
        using var supernet = new Supernet(space);
        var path = new[] { a, b, c, d };
        // Train a little on the path so batch-norm statistics are not the defaults.
        supernet.Path = path;
        supernet.train();
        using (no_grad()) for (int i = 0; i < 3; i++) { using var s = NewDisposeScope(); supernet.forward(randn(8, channels, 20, 18)); }
        supernet.eval();
        using var child = supernet.ExtractChild(path);
        child.eval();
        using var scope = NewDisposeScope();
        var x = randn(5, channels, 20, 18);
        var expected = supernet.forward(x);
        var actual = child.forward(x);
        Assert.True(expected.allclose(actual, rtol: 0, atol: 1e-6), $"max difference {(expected - actual).abs().max().item<float>()}");
        // Z = 1 on the path changes nothing.
        var architecture = new ArchitectureParameters(space, new ArchitectureSearchOptions(), CPU, 1);
        supernet.Gates = architecture.Gates(path);
        Assert.True(supernet.forward(x).allclose(expected, rtol: 0, atol: 1e-6));
        supernet.Gates = null;
        architecture.Dispose();
    }

    [Fact]
    public void Recorded_gate_gradients_equal_the_gradient_of_an_explicit_Z()
    {
        manual_seed(11);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 1 }, StageChannels = new[] { 32, 64 }, InputChannels = 1, Height = 14 });
        using var supernet = new Supernet(space);
        using var alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions(), CPU, 1);
        var path = new[] { 3, 1, 2 };
        supernet.Path = path;
        supernet.eval(); // same batch-norm behaviour in both passes
        using var scope = NewDisposeScope();
        var x = randn(6, 1, 14, 14);
        var y = randint(0, 10, new long[] { 6 });

        var z = alpha.Gates(path);
        supernet.Gates = z;
        nn.functional.cross_entropy(supernet.forward(x), y).backward();
        var explicitZ = ArchitectureParameters.GateGradientsFrom(z, path).data<float>().ToArray();
        supernet.Gates = null;

        supernet.zero_grad();
        supernet.RecordGateGradients = true;
        nn.functional.cross_entropy(supernet.forward(x), y).backward();
        var recorded = supernet.GateGradients().data<float>().ToArray();
        Assert.All(explicitZ, v => Assert.NotEqual(0f, v));
        for (int l = 0; l < path.Length; l++) Assert.Equal(explicitZ[l], recorded[l], 1e-5);
    }

    [Fact]
    public void Only_the_sampled_blocks_get_gradients()
    {
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Tiny, InputChannels = 1, Height = 12 });
        using var supernet = new Supernet(space);
        supernet.Path = new[] { 1, 3 };
        using var scope = NewDisposeScope();
        supernet.forward(randn(4, 1, 12, 12)).sum().backward();
        int shared = 0;
        foreach (var (name, p) in supernet.named_parameters())
        {
            bool hasGradient = p.grad is not null && p.grad.abs().sum().item<float>() > 0;
            // Both Tiny layers have stride 2: their projections are shared and trained whichever block is sampled.
            if (name.StartsWith("projections.")) { shared++; Assert.True(hasGradient, name); continue; }
            if (!name.StartsWith("layers.")) continue;
            Assert.DoesNotContain(".projection.", name);
            bool chosen = name.StartsWith("layers.0.1.") || name.StartsWith("layers.1.3.");
            Assert.Equal(chosen, hasGradient);
        }
        Assert.Equal(2 * 6, shared); // per layer: depthwise weight, BN scale and shift, 1x1 weight, BN scale and shift
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_supernet_holds_every_candidate_once_and_one_projection_per_stride2_layer_when_shared(bool sharedProjections)
    {
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 1 }, StageChannels = new[] { 32, 64 }, InputChannels = 1, Height = 14, SharedProjections = sharedProjections });
        using var supernet = new Supernet(space);
        long expected = space.Stem.Parameters + space.Tail.Parameters + space.Tail.OutChannels * space.Classes + space.Classes;
        foreach (var layer in space.Layers)
        {
            var plans = Enum.GetValues<BlockChoice>().Select(layer.Plan).ToArray();
            expected += plans.Sum(p => p.Parameters);
            // Shared: the four plans each count the same projection; the supernet holds it once.
            if (layer.SharedProjection) expected -= 3 * plans[0].Projection.Sum(c => c.Parameters);
        }
        Assert.Equal(expected, supernet.parameters().Sum(p => p.numel()));
        Assert.Equal(sharedProjections ? 2 : 0, space.Layers.Count(l => l.SharedProjection)); // the two stride-2 layers
    }

    [Fact]
    public void With_shared_kernels_the_ShuffleNet_candidates_train_the_centre_of_one_7x7_kernel()
    {
        manual_seed(5);
        var options = new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, StageRepeats = new[] { 2, 1 }, StageChannels = new[] { 32, 64 }, InputChannels = 1, Height = 14 };
        var space = new SearchSpace(options with { SharedKernels = true });
        using var supernet = new Supernet(space);
        // Per layer the Shuffle7 and Xception candidates only: Shuffle3 and Shuffle5 add no weights of their own.
        long expected = space.Stem.Parameters + space.Tail.Parameters + space.Tail.OutChannels * space.Classes + space.Classes;
        foreach (var layer in space.Layers)
        {
            var plans = new[] { layer.Plan(BlockChoice.Shuffle7), layer.Plan(BlockChoice.Xception) };
            expected += plans.Sum(p => p.Parameters);
            if (layer.SharedProjection) expected -= plans[0].Projection.Sum(c => c.Parameters);
        }
        Assert.Equal(expected, supernet.parameters().Sum(p => p.numel()));

        // A step on an all-k3 path trains the centre 3x3 of every layer's shared depthwise kernel and nothing outside it.
        supernet.Path = new[] { 0, 0, 0 };
        supernet.train();
        using var scope = NewDisposeScope();
        nn.functional.cross_entropy(supernet.forward(randn(6, 1, 14, 14)), randint(0, 10, new long[] { 6 })).backward();
        var kernels = supernet.named_parameters().Where(p => p.name.StartsWith("layers.") && p.parameter.dim() == 4 && p.parameter.shape[2] == 7).ToArray();
        Assert.Equal(space.Layers.Count, kernels.Length);
        foreach (var (name, kernel) in kernels)
        {
            var outside = kernel.grad!.clone();
            var centre = outside.narrow(2, 2, 3).narrow(3, 2, 3);
            Assert.True(centre.abs().max().item<float>() > 0, name);
            centre.zero_();
            Assert.Equal(0f, outside.abs().max().item<float>());
        }
    }

    [Fact]
    public void Batch_norm_recalibration_averages_the_statistics_of_the_given_batches()
    {
        manual_seed(3);
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Tiny, InputChannels = 1, Height = 12 });
        using var child = new ChildNetwork(space, new[] { 0, 0 });
        var batches = Enumerable.Range(0, 3).Select(_ => randn(6, 1, 12, 12) * 2 + 1).ToArray();
        BatchNormRecalibration.Recalibrate(child, batches);
        // The stem's batch norm sees the stem convolution's output: its running mean is that output's mean over all batches.
        var stemConv = child.modules().OfType<Conv2d>().First();
        var stemNorm = child.modules().OfType<BatchNorm>().First();
        using (no_grad())
        {
            var means = batches.Select(b => stemConv.forward(b).mean(new long[] { 0, 2, 3 })).ToArray();
            var expected = stack(means).mean(new long[] { 0 });
            Assert.True(stemNorm.running_mean!.allclose(expected, rtol: 1e-4, atol: 1e-5));
        }
        Assert.False(child.training);
    }
}
