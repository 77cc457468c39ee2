using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Search;

public class ClassifierDropoutTests
{
    public ClassifierDropoutTests() => TorchRuntime.EnsureCpu();

    [Fact]
    public void In_training_it_zeroes_about_p_of_the_values_scales_the_rest_and_repeats_with_the_same_seed()
    {
        using var dropout = new ClassifierDropout(0.25);
        dropout.train();
        using var scope = NewDisposeScope();
        var input = full(200, 100, 2f);
        float[] Draw(ulong seed)
        {
            using var generator = new Generator(seed);
            dropout.Generator = generator;
            return dropout.forward(input).data<float>().ToArray();
        }
        var first = Draw(7);
        // Kept values are 2 / (1 - 0.25); a quarter of 20,000 is zeroed, within 5 standard deviations (61).
        Assert.All(first, v => Assert.True(v == 0 || Math.Abs(v - 2f / 0.75f) < 1e-5, $"value {v}"));
        Assert.InRange(first.Count(v => v == 0), 5000 - 310, 5000 + 310);
        Assert.Equal(first, Draw(7));
        Assert.NotEqual(first, Draw(8));
        // The global generator is not used: drawing from it in between changes nothing.
        _ = rand(1000);
        Assert.Equal(first, Draw(7));
    }

    [Fact]
    public void Outside_training_and_at_zero_probability_it_is_the_identity()
    {
        using var scope = NewDisposeScope();
        var input = arange(0f, 12f, 1f).view(3, 4);
        using var dropout = new ClassifierDropout(0.5);
        dropout.eval();
        Assert.Equal(input.data<float>().ToArray(), dropout.forward(input).data<float>().ToArray());
        using var none = new ClassifierDropout(0);
        none.train();
        Assert.Equal(input.data<float>().ToArray(), none.forward(input).data<float>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassifierDropout(1));
    }
}
