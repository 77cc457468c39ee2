using DiffAutoML.ML.Api;
using DiffAutoML.ML.Native;
using TorchSharp;
using Microsoft.ML;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Training;

/// <summary>Chooses the training device from the options and mlContext's GPU settings.</summary>
internal static class DeviceSelector
{
    public static Device Select(ComputeDevice requested, MLContext mlContext, Action<string> log)
    {
        TorchRuntime.EnsureCpu();
        bool wantCuda = requested == ComputeDevice.Cuda || (requested == ComputeDevice.Auto && mlContext.GpuDeviceId is not null);
        if (!wantCuda) return CPU;
        int index = mlContext.GpuDeviceId ?? 0;
        string? problem = null;
        if (!TorchRuntime.IsCudaAvailable())
            problem = "no usable CUDA device was found (is a CUDA-enabled libtorch on the library path? see docs/gpu.md; " +
                      $"{TorchRuntime.LibTorchFolderVariable} = '{Environment.GetEnvironmentVariable(TorchRuntime.LibTorchFolderVariable) ?? "unset"}')";
        else if (index >= cuda.device_count())
            problem = $"mlContext.GpuDeviceId is {index} but only {cuda.device_count()} CUDA device(s) exist";
        if (problem is null) return new Device(DeviceType.CUDA, index);
        if (mlContext.FallbackToCpu || requested == ComputeDevice.Auto)
        {
            log(requested == ComputeDevice.Auto
                ? $"Training on the CPU: {problem}."
                : $"CUDA requested but {problem}; training on the CPU instead (mlContext.FallbackToCpu).");
            return CPU;
        }
        throw new InvalidOperationException($"CUDA was requested but {problem}. Set mlContext.FallbackToCpu = true to train on the CPU instead.");
    }
}
