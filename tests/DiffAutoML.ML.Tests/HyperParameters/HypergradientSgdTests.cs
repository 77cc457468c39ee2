using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.HyperParameters;

public class HypergradientSgdTests
{
    public HypergradientSgdTests() => TorchRuntime.EnsureCpu();

    private static void Close(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-9);
    }

    private static Sequential SmallCnn()
    {
        manual_seed(5);
        var model = nn.Sequential(nn.Conv2d(1, 4, 3, padding: 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3));
        model.to(ScalarType.Float64);
        return model;
    }

    [Fact]
    public void Update_is_sgd_with_momentum_and_decay_only_on_weights()
    {
        using var p = new Parameter(tensor(new double[] { 1, 2, 3, 4 }, new long[] { 2, 2 }));
        using var b = new Parameter(tensor(new double[] { 1, -1 }));
        using var sgd = new HypergradientSgd(new[] { p, b }, new HyperparameterOptions { LearningRate = 0.5, Momentum = 0.9, WeightDecay = 0.1 }, new LearningRateSchedule(0.5, 0, 1000000));
        p.grad = tensor(new double[] { 1, 1, 1, 1 }, new long[] { 2, 2 });
        b.grad = tensor(new double[] { 2, 2 });
        sgd.Step();
        // v = g + 0.1 theta for the weight; v = g for the bias; theta -= 0.5 v
        Close(new[] { 1 - 0.5 * 1.1, 2 - 0.5 * 1.2, 3 - 0.5 * 1.3, 4 - 0.5 * 1.4 }, p.data<double>().ToArray());
        Close(new[] { 0.0, -2.0 }, b.data<double>().ToArray());
        p.grad = null;
        b.grad = tensor(new double[] { 0, 0 });
        var before = p.data<double>().ToArray();
        sgd.Step();
        Assert.Equal(before, p.data<double>().ToArray()); // no gradient: not moved by momentum
        Close(new[] { -0.9, -2.9 }, b.data<double>().ToArray()); // v = 0.9 * 2
    }

    [Fact]
    public void Hypergradients_match_central_finite_differences()
    {
        using var model = SmallCnn();
        var parameters = model.parameters().ToArray();
        var options = new HyperparameterOptions { LearningRate = 0.3, Momentum = 0.9, WeightDecay = 0.02, TuneLearningRate = true };
        using var sgd = new HypergradientSgd(parameters, options, new LearningRateSchedule(0.3, 0, 1_000_000_000));
        var generator = new Generator(8);
        var xTrain = randn(new long[] { 8, 1, 6, 6 }, ScalarType.Float64, generator: generator);
        var yTrain = randint(0, 3, new long[] { 8 }, generator: generator);
        var xVal = randn(new long[] { 8, 1, 6, 6 }, ScalarType.Float64, generator: generator);
        var yVal = randint(0, 3, new long[] { 8 }, generator: generator);
        double TrainBackward() { model.zero_grad(); var l = nn.functional.cross_entropy(model.forward(xTrain), yTrain); l.backward(); return l.item<double>(); }

        TrainBackward();
        sgd.Step(); // now v_t is non-zero
        TrainBackward();
        // theta_t, v_t and g_t, held constant by the approximation.
        var theta = parameters.Select(p => p.detach().clone()).ToArray();
        var velocity = sgd.Velocities.Select(v => v!.clone()).ToArray();
        var gradient = parameters.Select(p => p.grad!.clone()).ToArray();
        double lr = sgd.CurrentLearningRate, decay = sgd.WeightDecay;
        sgd.Step();
        model.zero_grad();
        nn.functional.cross_entropy(model.forward(xVal), yVal).backward();
        var (dDecay, dLr) = sgd.Hypergradients();

        double ValidationLoss(double l, double d)
        {
            using var noGrad = no_grad();
            for (int i = 0; i < parameters.Length; i++)
            {
                var v = velocity[i] * 0.9 + gradient[i];
                if (parameters[i].dim() >= 2) v += theta[i] * d;
                parameters[i].copy_(theta[i] - v * l);
            }
            return nn.functional.cross_entropy(model.forward(xVal), yVal).item<double>();
        }
        double eps = 1e-6;
        double fdDecay = (ValidationLoss(lr, decay + eps) - ValidationLoss(lr, decay - eps)) / (2 * eps);
        double fdLr = (ValidationLoss(lr + eps, decay) - ValidationLoss(lr - eps, decay)) / (2 * eps);
        Assert.True(Math.Abs(fdDecay) > 1e-6 && Math.Abs(fdLr) > 1e-6, $"degenerate case: {fdDecay}, {fdLr}");
        Assert.True(Math.Abs(dDecay - fdDecay) / Math.Abs(fdDecay) < 1e-2, $"dL/dlambda {dDecay} vs finite differences {fdDecay}");
        Assert.True(Math.Abs(dLr - fdLr) / Math.Abs(fdLr) < 1e-2, $"dL/dlr {dLr} vs finite differences {fdLr}");
    }

    [Fact]
    public void Bounds_hold_whatever_the_gradients()
    {
        using var p = new Parameter(ones(3, 3, ScalarType.Float64));
        var options = new HyperparameterOptions { TuneLearningRate = true, HyperLearningRate = 0.5, WeightDecay = 1e-3, MinWeightDecay = 1e-5, MaxWeightDecay = 1e-2 };
        using var sgd = new HypergradientSgd(new[] { p }, options, new LearningRateSchedule(0.1, 0, 100000));
        var random = new Random(3);
        for (int i = 0; i < 300; i++) // past the 256 update records the device holds before they are read
        {
            using var scope = NewDisposeScope();
            p.grad = full(3, 3, random.NextDouble() < 0.5 ? 1e6 : -1e6, ScalarType.Float64);
            sgd.Step();
            p.grad = full(3, 3, (random.NextDouble() - 0.5) * 1e12, ScalarType.Float64);
            sgd.HyperStep();
            Assert.InRange(sgd.WeightDecay, 1e-5 * (1 - 1e-12), 1e-2 * (1 + 1e-12));
            Assert.InRange(sgd.LearningRateMultiplier, 0.1 * (1 - 1e-12), 10 * (1 + 1e-12));
        }
        p.grad = full(3, 3, double.NaN, ScalarType.Float64);
        var decay = sgd.WeightDecay;
        sgd.HyperStep();
        Assert.Equal(decay, sgd.WeightDecay);
        Assert.Equal(1, sgd.SkippedHyperSteps);
        Assert.Equal(Enumerable.Range(0, 301).Select(i => (long)Math.Min(i, 299)), sgd.Trajectory.Select(r => r.Step));
        Assert.Equal(decay, sgd.Trajectory[^1].WeightDecay);
    }

    [Fact]
    public void The_device_side_adam_step_follows_the_host_reference_and_records_every_update()
    {
        // The hyper-parameters are updated on the device; a plain double Adam on the same hypergradients (read first,
        // with Hypergradients) must give the same lambda and multiplier after every update, and the trajectory one
        // record per update, including the skipped one.
        using var model = SmallCnn();
        var options = new HyperparameterOptions { TuneLearningRate = true, HyperLearningRate = 0.05, WeightDecay = 1e-3, MinWeightDecay = 1e-5, MaxWeightDecay = 1e-2 };
        var schedule = new LearningRateSchedule(0.1, 2, 40);
        using var sgd = new HypergradientSgd(model.parameters(), options, schedule);
        var generator = new Generator(8);
        double logDecay = Math.Log(1e-3), logMultiplier = 0, meanD = 0, squareD = 0, meanM = 0, squareM = 0;
        int adamSteps = 0;
        for (int step = 0; step < 12; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(new long[] { 8, 1, 6, 6 }, ScalarType.Float64, generator: generator);
            var y = randint(0, 3, new long[] { 8 }, generator: generator);
            model.zero_grad();
            nn.functional.cross_entropy(model.forward(x), y).backward();
            double lr = Math.Exp(logMultiplier) * schedule.At(sgd.StepCount);
            Assert.Equal(lr, sgd.CurrentLearningRate, 1e-15);
            sgd.Step();
            model.zero_grad();
            nn.functional.cross_entropy(model.forward(x.flip(3)), y).backward();
            if (step == 7) foreach (var p in model.parameters()) p.grad!.fill_(double.NaN); // skipped: nothing moves
            var (dDecay, dLr) = sgd.Hypergradients();
            sgd.HyperStep();
            if (double.IsFinite(dDecay) && double.IsFinite(dLr))
            {
                adamSteps++;
                double Adam(double g, ref double m, ref double v)
                {
                    m = 0.9 * m + 0.1 * g;
                    v = 0.999 * v + 0.001 * g * g;
                    return 0.05 * (m / (1 - Math.Pow(0.9, adamSteps))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, adamSteps))) + 1e-8);
                }
                logDecay = Math.Clamp(logDecay - Adam(dDecay * Math.Exp(logDecay), ref meanD, ref squareD), Math.Log(1e-5), Math.Log(1e-2));
                logMultiplier = Math.Clamp(logMultiplier - Adam(dLr * lr, ref meanM, ref squareM), Math.Log(0.1), Math.Log(10));
            }
            Assert.Equal(Math.Exp(logDecay), sgd.WeightDecay, 1e-12);
            Assert.Equal(Math.Exp(logMultiplier), sgd.LearningRateMultiplier, 1e-12);
            var record = sgd.Trajectory[^1];
            Assert.Equal(step, record.Step);
            Assert.Equal(lr, record.LearningRate, 1e-15);
            Assert.Equal(Math.Exp(logDecay), record.WeightDecay, 1e-12);
            Assert.Equal(dDecay, record.WeightDecayHypergradient);
        }
        Assert.Equal(12, sgd.Trajectory.Count);
        Assert.Equal(1, sgd.SkippedHyperSteps);
        Assert.NotEqual(1e-3, sgd.WeightDecay, 1e-6); // the updates moved lambda
        var state = sgd.SaveState();
        Assert.Equal(11, state.AdamSteps);
        Assert.Equal(logMultiplier, state.LogLearningRateMultiplier, 1e-12);
    }

    [Fact]
    public void One_buffer_gives_the_per_parameter_update_and_hypergradients()
    {
        // Two copies of one model: one optimizer moves the parameters into one buffer (as on CUDA), the other keeps each
        // apart (as on the CPU). Steps with every gradient (the whole-buffer update) and with one missing (per
        // parameter, on the views) must agree, and the modules must train through the buffer.
        using var flatModel = SmallCnn();
        using var apartModel = SmallCnn();
        var initial = flatModel.parameters().Select(p => p.data<double>().ToArray()).ToArray();
        var options = new HyperparameterOptions { TuneLearningRate = true, WeightDecay = 1e-3, HyperLearningRate = 0.05 };
        var schedule = new LearningRateSchedule(0.1, 0, 100);
        using var flat = new HypergradientSgd(flatModel.parameters(), options, schedule, flatten: true); // CUDA's default
        using var apart = new HypergradientSgd(apartModel.parameters(), options, schedule); // the CPU's default
        Assert.True(flat.UsesOneBuffer);
        Assert.False(apart.UsesOneBuffer);
        var generator = new Generator(4);
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(new long[] { 8, 1, 6, 6 }, ScalarType.Float64, generator: generator);
            var y = randint(0, 3, new long[] { 8 }, generator: generator);
            var hypergradients = new List<(double, double)>();
            foreach (var (model, sgd) in new[] { (flatModel, flat), (apartModel, apart) })
            {
                model.zero_grad();
                nn.functional.cross_entropy(model.forward(x), y).backward();
                if (step == 3) model.parameters().First().grad = null; // the conv weight sits this step out
                sgd.Step();
                model.zero_grad();
                nn.functional.cross_entropy(model.forward(x.flip(3)), y).backward();
                hypergradients.Add(sgd.Hypergradients());
                sgd.HyperStep();
            }
            Assert.Equal(hypergradients[1].Item1, hypergradients[0].Item1, 1e-12);
            Assert.Equal(hypergradients[1].Item2, hypergradients[0].Item2, 1e-12);
        }
        var trained = flatModel.parameters().Select(p => p.data<double>().ToArray()).ToArray();
        var reference = apartModel.parameters().Select(p => p.data<double>().ToArray()).ToArray();
        for (int i = 0; i < trained.Length; i++)
        {
            Assert.True(trained[i].Zip(reference[i], (a, b) => Math.Abs(a - b)).Max() < 1e-12, $"parameter {i} differs");
            Assert.NotEqual(initial[i], trained[i]);
        }
        var velocities = flat.Velocities.Select(v => v!.data<double>().ToArray()).ToArray();
        var referenceVelocities = apart.Velocities.Select(v => v!.data<double>().ToArray()).ToArray();
        for (int i = 0; i < velocities.Length; i++) Assert.True(velocities[i].Zip(referenceVelocities[i], (a, b) => Math.Abs(a - b)).Max() < 1e-12);
        Assert.Equal(apart.WeightDecay, flat.WeightDecay, 1e-12);
        Assert.Throws<InvalidDataException>(() => flat.LoadVelocity(0, zeros(1, ScalarType.Float64)));
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HyperparameterOptions { LearningRate = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new HyperparameterOptions { WeightDecay = 1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new HyperparameterOptions { UpdateEvery = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new HyperparameterOptions { MinLearningRateMultiplier = 2 }.Validate());
    }
}
