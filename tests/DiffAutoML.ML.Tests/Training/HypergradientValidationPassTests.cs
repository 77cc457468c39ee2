using DiffAutoML.ML.Native;
using DiffAutoML.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Training;

public class HypergradientValidationPassTests
{
    public HypergradientValidationPassTests() => TorchRuntime.EnsureCpu();

    private static (Sequential Model, BatchNorm2d Norm) Network()
    {
        var convolution = nn.Conv2d(1, 3, 3, padding: 1);
        var norm = nn.BatchNorm2d(3);
        var model = nn.Sequential(convolution, norm, nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4));
        model.to(ScalarType.Float64);
        // Weights from the test's own generator, with positive ones in the first channel. With the default random
        // weights, evaluation-mode batch norm (mean 0, variance 1) left every channel negative for these large inputs
        // in 4 of 2000 draws (measured): the ReLU passed nothing, the first layer's gradient was zero and CI failed.
        using (no_grad())
        {
            using var generator = new TorchSharp.torch.Generator(17);
            convolution.weight!.copy_(rand(new long[] { 3, 1, 3, 3 }, ScalarType.Float64, generator: generator) - 0.5);
            convolution.weight![0].abs_();
        }
        model.train();
        return (model, norm);
    }

    private static (Tensor Images, Tensor Labels) Batch()
    {
        using var generator = new TorchSharp.torch.Generator(3);
        // Far from the running statistics' start (mean 0, variance 1), so that any update would show.
        return (rand(new long[] { 6, 1, 5, 5 }, ScalarType.Float64, generator: generator) * 40 + 100, tensor(new long[] { 0, 1, 2, 3, 0, 1 }));
    }

    [Fact]
    public void With_a_fixed_architecture_the_pass_leaves_the_running_statistics_alone_and_differentiates_the_evaluation_loss()
    {
        var (model, norm) = Network();
        var (x, y) = Batch();
        var meanBefore = norm.running_mean!.clone();
        var varianceBefore = norm.running_var!.clone();

        HypergradientValidationPass.Backward(model, x, y, useRunningStatistics: true);

        Assert.True(model.training, "the network must be back in training mode");
        Assert.Equal(0, (norm.running_mean! - meanBefore).abs().max().item<double>());
        Assert.Equal(0, (norm.running_var! - varianceBefore).abs().max().item<double>());
        // The gradient is that of the evaluation-mode loss.
        var first = model.parameters().First();
        var gradient = first.grad!.clone();
        first.grad = null;
        foreach (var p in model.parameters()) p.grad = null;
        model.eval();
        nn.functional.cross_entropy(model.forward(x), y).backward();
        Assert.True((first.grad! - gradient).abs().max().item<double>() < 1e-12);
        Assert.True(gradient.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void During_the_search_the_pass_uses_batch_statistics()
    {
        var (model, norm) = Network();
        var (x, y) = Batch();

        HypergradientValidationPass.Backward(model, x, y, useRunningStatistics: false);

        Assert.True(model.training);
        // Training-mode batch norm moved the running mean towards the batch's (about 100 after the convolution's scale).
        Assert.True(norm.running_mean!.abs().max().item<double>() > 0.1);
        var first = model.parameters().First();
        var gradient = first.grad!.clone();
        foreach (var p in model.parameters()) p.grad = null;
        nn.functional.cross_entropy(model.forward(x), y).backward();
        Assert.True((first.grad! - gradient).abs().max().item<double>() < 1e-12);
    }
}
