using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

public class KeptScalarBatchNorm2dTests
{
    [Fact]
    public void It_computes_what_torchsharps_batch_norm_computes_and_saves_under_the_same_names()
    {
        TorchRuntime.EnsureCpu();
        manual_seed(5);
        using var ours = new KeptScalarBatchNorm2d(3, 1e-3);
        using var theirs = nn.BatchNorm2d(3, eps: 1e-3);
        using (no_grad())
        {
            // Different affine parameters than the defaults, the same in both.
            var gamma = randn(3);
            var beta = randn(3);
            ours.weight.copy_(gamma);
            theirs.weight.copy_(gamma);
            ours.bias!.copy_(beta);
            theirs.bias!.copy_(beta);
        }
        Assert.Equal(theirs.state_dict().Keys.OrderBy(k => k), ours.state_dict().Keys.OrderBy(k => k));

        ours.train();
        theirs.train();
        for (int i = 0; i < 4; i++)
        {
            var x = randn(5, 3, 4, 4) * (i + 1) + i;
            var expected = theirs.forward(x);
            var actual = ours.forward(x);
            Assert.True(actual.allclose(expected, rtol: 1e-6, atol: 1e-6), $"training forward {i} differs");
        }
        Assert.True(ours.running_mean!.allclose(theirs.running_mean!, rtol: 1e-6, atol: 1e-7));
        Assert.True(ours.running_var!.allclose(theirs.running_var!, rtol: 1e-6, atol: 1e-7));
        Assert.Equal(4, ours.num_batches_tracked!.item<long>());
        Assert.Equal(theirs.num_batches_tracked!.item<long>(), ours.num_batches_tracked!.item<long>());

        ours.eval();
        theirs.eval();
        var test = randn(2, 3, 4, 4);
        Assert.True(ours.forward(test).allclose(theirs.forward(test), rtol: 1e-6, atol: 1e-6), "evaluation forward differs");
        Assert.Equal(4, ours.num_batches_tracked!.item<long>()); // evaluation does not count
    }

    [Fact]
    public void Without_momentum_the_running_statistics_are_the_plain_average_of_the_batches()
    {
        TorchRuntime.EnsureCpu();
        manual_seed(6);
        using var norm = new KeptScalarBatchNorm2d(2, 1e-5) { momentum = null };
        norm.train();
        var batches = Enumerable.Range(0, 3).Select(i => randn(4, 2, 3, 3) + i * 2).ToArray();
        using (no_grad())
            foreach (var batch in batches) norm.forward(batch);
        var expected = stack(batches.Select(b => b.mean(new long[] { 0, 2, 3 })).ToArray()).mean(new long[] { 0 });
        Assert.True(norm.running_mean!.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void An_input_that_is_not_four_dimensional_is_an_argument_error()
    {
        TorchRuntime.EnsureCpu();
        using var norm = new KeptScalarBatchNorm2d(2, 1e-5);
        var e = Assert.Throws<ArgumentException>(() => norm.forward(zeros(2, 2, 3)));
        Assert.Contains("4-dimensional", e.Message);
    }
}
