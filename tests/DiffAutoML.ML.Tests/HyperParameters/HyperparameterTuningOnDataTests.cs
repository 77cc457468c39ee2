using DiffAutoML.ML.Data;
using DiffAutoML.ML.HyperParameters;
using DiffAutoML.ML.Native;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.HyperParameters;

/// <summary>HPO on a fixed hand-designed network and the shipped Fashion-MNIST subset.</summary>
[Collection(HeavyTestsCollection.Name)]
public class HyperparameterTuningOnDataTests
{
    private sealed record Run(double FinalWeightDecay, double ValidationLoss);

    private static Run Train(ImageTensorCache cache, int[] trainRows, int[] validationRows, ChannelStatistics stats, bool tune)
    {
        const int steps = 150, batch = 64;
        manual_seed(21);
        using var model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10));
        var options = new HyperparameterOptions { LearningRate = 0.05, WeightDecay = 0.5, MaxWeightDecay = 1, TuneWeightDecay = tune, HyperLearningRate = 0.05 };
        using var sgd = new HypergradientSgd(model.parameters(), options, new LearningRateSchedule(0.05, 10, steps));
        using var assembler = new BatchAssembler(cache, CPU);
        var trainBatches = new MiniBatchSampler(trainRows, batch, seed: 1, dropLast: true);
        var validationBatches = new MiniBatchSampler(validationRows, batch, seed: 2, dropLast: true);
        using var train = trainBatches.Epoch(0).Concat(trainBatches.Epoch(1)).Concat(trainBatches.Epoch(2)).GetEnumerator();
        using var validation = Enumerable.Range(0, 100).SelectMany(validationBatches.Epoch).GetEnumerator();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            train.MoveNext();
            var (x, y) = assembler.Gather(train.Current);
            model.zero_grad();
            nn.functional.cross_entropy(model.forward(stats.Normalize(x)), y).backward();
            sgd.Step();
            if (!sgd.HyperStepDue) continue;
            validation.MoveNext();
            var (xv, yv) = assembler.Gather(validation.Current);
            model.zero_grad();
            nn.functional.cross_entropy(model.forward(stats.Normalize(xv)), yv).backward();
            sgd.HyperStep();
        }
        using var noGrad = no_grad();
        using var evalScope = NewDisposeScope();
        var (xAll, yAll) = assembler.Gather(validationRows.Select(r => (long)r).ToArray());
        return new Run(sgd.WeightDecay, nn.functional.cross_entropy(model.forward(stats.Normalize(xAll)), yAll).item<float>());
    }

    [Fact]
    public void Hpo_lowers_a_too_large_weight_decay_and_beats_the_same_run_without_it()
    {
        TorchRuntime.EnsureCpu();
        var ml = new MLContext(seed: 1);
        var data = IdxDataset.Load(ml, TestPaths.SubsetFile("train-images-idx3-ubyte.gz"), TestPaths.SubsetFile("train-labels-idx1-ubyte.gz"));
        using var cache = ImageDataLoader.Load(data, new ImageDataOptions());
        var (trainRows, validationRows) = StratifiedSplit.Split(cache.Labels, 10, 0.2, seed: 1);
        var stats = ChannelStatistics.Compute(cache.Images, trainRows);

        var fixedDecay = Train(cache, trainRows, validationRows, stats, tune: false);
        var tuned = Train(cache, trainRows, validationRows, stats, tune: true);

        // Measured: lambda 0.5 -> 0.091, validation loss 0.995 -> 0.682 (150 steps of 64 images).
        Assert.Equal(0.5, fixedDecay.FinalWeightDecay, 12);
        Assert.True(tuned.FinalWeightDecay < 0.5 / 2, $"weight decay after HPO: {tuned.FinalWeightDecay}");
        Assert.True(tuned.ValidationLoss < fixedDecay.ValidationLoss,
            $"validation loss with HPO {tuned.ValidationLoss:F4}, without {fixedDecay.ValidationLoss:F4}");
        TestContext.Current.SendDiagnosticMessage($"HPO: lambda 0.5 -> {tuned.FinalWeightDecay:G3}; validation loss {fixedDecay.ValidationLoss:F4} -> {tuned.ValidationLoss:F4}");
    }
}
