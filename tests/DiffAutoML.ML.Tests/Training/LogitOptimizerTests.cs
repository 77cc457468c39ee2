using DiffAutoML.ML.Native;
using DiffAutoML.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Training;

public class LogitOptimizerTests
{
    public LogitOptimizerTests() => TorchRuntime.EnsureCpu();

    private static float[][] Gradients(int steps)
    {
        var random = new Random(5);
        return Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, 6).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }

    private static Parameter Logits() => new(tensor(new[] { 0.1f, -0.2f, 0.3f, 0f, 0.5f, -0.4f }, new long[] { 2, 3 }), requires_grad: true);

    private static void SetGradient(Parameter p, float[] values)
    {
        using var noGrad = no_grad();
        using var g = tensor(values, p.shape);
        p.grad!.copy_(g);
    }

    public static TheoryData<string> Kinds => new() { "adam", "sgd", "sgd-decay" };

    private static LogitOptimizer Ours(string kind, Parameter p) => kind switch
    {
        "adam" => LogitOptimizer.Adam(p, 0.01, 0.5, 0.999),
        "sgd" => LogitOptimizer.Sgd(p, 0.1, 0.9),
        _ => LogitOptimizer.Sgd(p, 0.1, 0.9, weightDecay: 0.01),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Steps_match_torchsharps_optimizer_with_the_same_settings(string kind)
    {
        using var ours = Logits();
        using var theirs = Logits();
        using var optimizer = Ours(kind, ours);
        using var reference = kind switch
        {
            "adam" => (OptimizerHelper)optim.Adam(new[] { theirs }, 0.01, 0.5, 0.999),
            "sgd" => optim.SGD(new[] { theirs }, 0.1, 0.9),
            _ => optim.SGD(new[] { theirs }, 0.1, 0.9, weight_decay: 0.01),
        };
        foreach (var g in Gradients(5))
        {
            optimizer.ZeroGrad();
            SetGradient(ours, g);
            theirs.grad = zeros_like(theirs);
            SetGradient(theirs, g);
            optimizer.Step();
            reference.step();
        }
        var a = ours.detach().data<float>().ToArray();
        var b = theirs.detach().data<float>().ToArray();
        Assert.Equal(5, optimizer.Steps);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-6);
        Assert.NotEqual(0.1f, a[0]); // it moved
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_state_written_and_read_back_continues_exactly_as_an_uninterrupted_run(string kind)
    {
        var gradients = Gradients(5);
        using var straight = Logits();
        using var straightOptimizer = Ours(kind, straight);
        foreach (var g in gradients) { straightOptimizer.ZeroGrad(); SetGradient(straight, g); straightOptimizer.Step(); }

        using var first = Logits();
        using var firstOptimizer = Ours(kind, first);
        foreach (var g in gradients.Take(3)) { firstOptimizer.ZeroGrad(); SetGradient(first, g); firstOptimizer.Step(); }
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) firstOptimizer.WriteState(writer);

        using var resumed = new Parameter(first.detach().clone(), requires_grad: true);
        using var resumedOptimizer = Ours(kind, resumed);
        stream.Position = 0;
        using (var reader = new BinaryReader(stream)) resumedOptimizer.ReadState(reader);
        foreach (var g in gradients.Skip(3)) { resumedOptimizer.ZeroGrad(); SetGradient(resumed, g); resumedOptimizer.Step(); }

        Assert.Equal(straight.detach().data<float>().ToArray(), resumed.detach().data<float>().ToArray());
        Assert.Equal(5, resumedOptimizer.Steps);
    }

    [Fact]
    public void A_state_of_another_size_is_refused()
    {
        using var small = new Parameter(zeros(3), requires_grad: true);
        using var smallOptimizer = LogitOptimizer.Adam(small, 0.01, 0.5, 0.999);
        smallOptimizer.ZeroGrad();
        smallOptimizer.Step();
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) smallOptimizer.WriteState(writer);
        using var large = Logits();
        using var largeOptimizer = LogitOptimizer.Adam(large, 0.01, 0.5, 0.999);
        stream.Position = 0;
        using var reader = new BinaryReader(stream);
        var error = Assert.Throws<InvalidDataException>(() => largeOptimizer.ReadState(reader));
        Assert.Contains("3 values", error.Message);
    }
}
