using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

// Not run beside other tests: manual_seed is process-wide.
[Collection(HeavyTestsCollection.Name)]
public class MixedPrecisionTests
{
    public MixedPrecisionTests() => TorchRuntime.EnsureCpu();

    private static SearchSpace Space(bool sharedKernels = false) => new(new SearchSpaceOptions
    {
        Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28, Dropout = 0, SharedKernels = sharedKernels,
        StageChannels = new[] { 16, 32, 64, 128 }, StemChannels = 8, TailChannels = 128,
    });

    // The largest difference between two tensors, relative to the largest value of the first.
    private static double RelativeDifference(Tensor reference, Tensor other)
        => (reference - other.to(reference.dtype)).abs().max().item<float>() / reference.abs().max().item<float>();

    private static double Cosine(Tensor a, Tensor b)
        => (a.flatten().dot(b.flatten()) / (a.norm() * b.norm())).item<float>();

    // Fit uses bfloat16 on CUDA only (MixedPrecision.ComputeType): libtorch's CPU kernels are wrong for some shapes.
    // These tests check the mechanism on the CPU where its kernels are right (blocks that keep their stride and 16 or
    // more channels), one block at a time, so that an error shows where it arises (a whole network is sensitive: a 0.2%
    // change of its input turned its float32 weight gradients to cosine 0.93-0.95). CudaTests checks the convolutions on
    // the device and a bfloat16 Fit.
    [Theory]
    [InlineData(BlockChoice.Shuffle3)]
    [InlineData(BlockChoice.Shuffle7)]
    [InlineData(BlockChoice.Xception)]
    public void A_block_computes_in_bfloat16_close_to_float32_with_float32_gradients(BlockChoice choice)
    {
        manual_seed(5);
        var space = Space();
        foreach (var layer in new[] { space.Layers[1], space.Layers[3] }) // stride 1, 16 and 32 channels
        {
            using var block = new ChoiceBlock(layer.Plan(choice), 1e-5);
            block.train();
            using var scope = NewDisposeScope();
            var x = randn(16, layer.InChannels, layer.InputHeight, layer.InputWidth);
            var upstream = randn(block.forward(x).shape);
            (Tensor Output, Tensor Gradients) Step(ScalarType? compute)
            {
                block.zero_grad();
                // In the network a block's input is the previous layer's output, already in the compute type.
                var output = block.Forward(compute is ScalarType type ? x.to(type) : x, compute);
                output.mul(upstream.to(output.dtype)).sum().backward();
                return (output.detach(), cat(block.parameters().Select(p => p.grad!.flatten()).ToArray()));
            }
            var (output32, gradients32) = Step(null);
            var (output16, gradients16) = Step(ScalarType.BFloat16);
            // bfloat16 has 8 bits of mantissa: about 0.4% per rounding; a no-op would match float32 to about 1e-7.
            Assert.Equal(ScalarType.BFloat16, output16.dtype);
            Assert.InRange(RelativeDifference(output32, output16), 1e-4, 0.03);
            Assert.Equal(ScalarType.Float32, gradients16.dtype);
            Assert.True(Cosine(gradients32, gradients16) > 0.99, $"layer {layer.Index}: gradient cosine {Cosine(gradients32, gradients16)}");
            Assert.All(block.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        }
    }

    [Fact]
    public void The_child_computes_in_bfloat16_only_in_training_and_returns_float32_logits()
    {
        manual_seed(6);
        using var child = new ChildNetwork(Space(), new[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 });
        using var scope = NewDisposeScope();
        var x = randn(32, 1, 28, 28);
        var y = randint(0, 10, new long[] { 32 });
        child.train();
        var loss32 = nn.functional.cross_entropy(child.forward(x), y).item<float>();
        child.TrainingComputeType = ScalarType.BFloat16;
        var logits16 = child.forward(x);
        Assert.Equal(ScalarType.Float32, logits16.dtype); // the loss is float32
        nn.functional.cross_entropy(logits16, y).backward();
        Assert.All(child.parameters(), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
        Assert.InRange(nn.functional.cross_entropy(logits16.detach(), y).item<float>(), loss32 * 0.95, loss32 * 1.05);

        // Evaluation runs in float32 whatever the training type: bit for bit what the returned model computes.
        child.eval();
        child.TrainingComputeType = null;
        var plain = child.forward(x).data<float>().ToArray();
        child.TrainingComputeType = ScalarType.BFloat16;
        Assert.Equal(plain, child.forward(x).data<float>().ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_supernet_computes_its_candidates_in_bfloat16_and_reads_gate_gradients_in_float32(bool sharedKernels)
    {
        manual_seed(7);
        var path = new[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 }; // with shared kernels k3 and k5 cut the 7x7 kernel
        using var supernet = new Supernet(Space(sharedKernels)) { RecordGateGradients = true, Path = path, TrainingComputeType = ScalarType.BFloat16 };
        supernet.train();
        using var scope = NewDisposeScope();
        var logits = supernet.forward(randn(32, 1, 28, 28));
        Assert.Equal(ScalarType.Float32, logits.dtype);
        nn.functional.cross_entropy(logits, randint(0, 10, new long[] { 32 })).backward();
        var gates = supernet.GateGradients();
        Assert.Equal(ScalarType.Float32, gates.dtype);
        Assert.True(gates.abs().min().item<float>() > 0 && gates.isfinite().all().item<bool>(), "a layer got no architecture signal");
        // A candidate alone (its cost is measured so) computes as the supernet trains it, cut kernel included, and
        // close to its float32 output (layer 3: stride 1, 32 channels).
        var input = randn(8, 32, 7, 7).to(ScalarType.BFloat16);
        var (_, candidate16) = supernet.CandidateParts(3, 1, input);
        Assert.Equal(ScalarType.BFloat16, candidate16.dtype);
        supernet.TrainingComputeType = null;
        var (_, candidate32) = supernet.CandidateParts(3, 1, input.to(ScalarType.Float32));
        Assert.InRange(RelativeDifference(candidate32, candidate16), 1e-4, 0.03);
    }
}
