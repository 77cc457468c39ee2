using DiffAutoML.ML.Api;
using DiffAutoML.ML.Training;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>The device a benchmark command names ("cpu" or "cuda"), chosen as Fit chooses it, and the wait for it.</summary>
internal static class BenchmarkDevice
{
    public static Device Select(string name)
        => DeviceSelector.Select(name == "cuda" ? ComputeDevice.Cuda : ComputeDevice.Cpu, new MLContext(1), Console.Error.WriteLine);

    /// <summary>Waits for the work queued on a CUDA device (timings end with it); nothing on the CPU.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
