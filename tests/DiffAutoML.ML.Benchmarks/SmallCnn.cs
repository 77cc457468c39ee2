using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>The small CNN (two conv + batch-norm layers) whose training step the data and augmentation benchmarks compare against.</summary>
internal static class SmallCnn
{
    public static Sequential Create() => nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10));
}
