using DiffAutoML.ML.Api;
using DiffAutoML.ML.Augmentation;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Tests.Api;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Tests.Gpu;

/// <summary>Runs where a CUDA device is usable (the GPU machine, see ../shared/gpu); skips cleanly elsewhere.</summary>
[Collection(HeavyTestsCollection.Name)]
public class CudaTests
{
    private static void RequireCuda() => Assert.SkipUnless(TorchRuntime.IsCudaAvailable(), "no usable CUDA device on this machine");

    [Fact]
    public void Augmentation_gives_the_same_pixels_on_cuda_and_cpu()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var images = randint(0, 256, new long[] { 64, 3, 20, 24 }, generator: generator).to(ScalarType.Float32);
        var ops = randint(0, 14, new long[] { 64 }, generator: generator);
        var levels = rand(new long[] { 64 }, generator: generator) * 10;
        var signs = rand(new long[] { 64 }, generator: generator).lt(0.5).to(ScalarType.Float32) * 2 - 1;
        var cpu = BatchAugmenter.Apply(images, ops, levels, signs);
        var gpu = BatchAugmenter.Apply(images.cuda(), ops.cuda(), levels.cuda(), signs.cuda()).cpu();
        Assert.True((cpu - gpu).abs().max().item<float>() <= 1, "CUDA and CPU differ by more than one grey level");
    }

    [Fact]
    public void Fit_trains_on_cuda_when_asked()
    {
        RequireCuda();
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0 };
        var options = FitEndToEndTests.Small(epochs: 3);
        options.Device = ComputeDevice.Cuda;
        var model = ml.Auto().DiffAutoML(options).Fit(FitEndToEndTests.Train(ml));
        Assert.StartsWith("cuda", model.Report.Device);
        Assert.True(model.Evaluate(FitEndToEndTests.Test(ml)).MicroAccuracy > 0.5);
    }

    [Fact]
    public void Cuda_requested_without_a_gpu_is_a_clear_error_unless_fallback_is_allowed()
    {
        Assert.SkipWhen(TorchRuntime.IsCudaAvailable(), "this machine has a GPU");
        var ml = new MLContext(seed: 1);
        var options = FitEndToEndTests.Small(epochs: 1);
        options.Device = ComputeDevice.Cuda;
        var data = ml.Data.TakeRows(FitEndToEndTests.Train(ml), 300);
        var e = Assert.Throws<InvalidOperationException>(() => ml.Auto().DiffAutoML(options).Fit(data));
        Assert.Contains("CUDA", e.Message);
        Assert.Contains("FallbackToCpu", e.Message);
        ml.FallbackToCpu = true;
        Assert.Equal("cpu", ml.Auto().DiffAutoML(options).Fit(data).Report.Device);
    }
}
