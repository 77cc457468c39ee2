namespace DiffAutoML.ML.Api;

/// <summary>Where training runs.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when mlContext.GpuDeviceId is set and a GPU is usable, else the CPU.</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>A CUDA GPU (mlContext.GpuDeviceId, default 0); an error when none is usable, unless mlContext.FallbackToCpu.</summary>
    Cuda,
}
