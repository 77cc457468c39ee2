using System.Diagnostics;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// Whether the channels-last memory format (NHWC strides) would pay on the CPU, and whether libtorch computes it right:
/// the fixed all-k3 child's training step with its activations in the usual layout and in channels-last from the stem
/// on, the logits of both, depthwise convolutions alone in both layouts, and 1x1 convolutions in both layouts against
/// a float64 reference. TorchSharp 0.107 has no memory-format argument; a tensor gets channels-last strides through
/// permute, contiguous, permute, which libtorch's convolutions recognize. (docs/benchmarks.md, "Channels-last".)
/// </summary>
internal static class ChannelsLastBenchmark
{
    public static void Run(int batch, int reps)
    {
        TorchRuntime.EnsureCpu();
        var space = new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });
        using var child = new ChildNetwork(space, Enumerable.Repeat((int)BlockChoice.Shuffle3, space.Layers.Count).ToArray());
        var parts = child.named_children().ToDictionary(p => p.name, p => p.module);
        var stem = (nn.Module<Tensor, Tensor>)parts["stem"];
        var blocks = (ModuleList<ChoiceBlock>)parts["blocks"];
        var tail = (nn.Module<Tensor, Tensor>)parts["tail"];
        var classifier = (nn.Module<Tensor, Tensor>)parts["classifier"];
        // The child's forward without dropout, the stem's output optionally in channels-last (its 1-channel input has
        // the same memory in both layouts, so libtorch would not see the difference there).
        Tensor Forward(Tensor images, bool channelsLast)
        {
            var x = stem.forward(images);
            if (channelsLast) x = ChannelsLast(x);
            foreach (var block in blocks) x = block.forward(x);
            return classifier.forward(tail.forward(x).mean(new long[] { 2, 3 }));
        }
        Console.WriteLine($"channels-last on the CPU: all-k3 child, Compact 1x28x28, batch {batch}, median of {reps} forward + backward passes, torch threads {TorchSharp.torch.get_num_threads()}");
        child.train();
        for (int round = 0; round < 2; round++) // alternating, since the machine's speed drifts
            Console.WriteLine($"  training step (forward + backward): usual layout {Time(() => Forward(rand(batch, 1, 28, 28), false), reps),7:F2} ms, channels-last {Time(() => Forward(rand(batch, 1, 28, 28), true), reps),7:F2} ms");
        child.eval();
        using (no_grad())
        {
            var images = rand(batch, 1, 28, 28);
            var usual = Forward(images, false);
            Console.WriteLine($"  logits (evaluation mode): channels-last differs from the usual layout by up to {(Forward(images, true) - usual).abs().max().item<float>():E2} (largest logit {usual.abs().max().item<float>():F3})");
        }
        foreach (var (channels, side) in new[] { (16, 28), (32, 14), (64, 7) })
            foreach (var kernel in new[] { 3, 7 })
                foreach (var stride in new[] { 1, 2 })
                {
                    var weight = (randn(channels, 1, kernel, kernel) * 0.1).requires_grad_(true);
                    var input = randn(batch, channels, side, side).requires_grad_(true);
                    var inputLast = ChannelsLast(input.detach()).requires_grad_(true);
                    Tensor Conv(Tensor x) => nn.functional.conv2d(x, weight, strides: new long[] { stride }, padding: new long[] { kernel / 2 }, groups: channels);
                    Console.WriteLine($"  depthwise {kernel}x{kernel} stride {stride} on {channels}x{side}x{side} (forward + backward): usual {Time(() => Conv(input), reps),7:F2} ms, channels-last {Time(() => Conv(inputLast), reps),7:F2} ms, converted in and out {Time(() => Conv(ChannelsLast(input)).contiguous(), reps),7:F2} ms");
                }
        // Depthwise convolutions: output and both gradients in channels-last against the usual layout.
        double worst = 0; string worstCase = "";
        foreach (var n in new[] { batch, batch / 4, 77 })
            foreach (var (channels, side) in new[] { (16, 28), (24, 28), (32, 14), (48, 14), (64, 7), (96, 7), (128, 4), (256, 2) })
                foreach (var kernel in new[] { 3, 5, 7 })
                    foreach (var stride in new[] { 1, 2 })
                    {
                        var weight = (randn(channels, 1, kernel, kernel) * 0.1).requires_grad_(true);
                        var input = randn(n, channels, side, side).requires_grad_(true);
                        var inputLast = ChannelsLast(input.detach()).requires_grad_(true);
                        var outGrad = randn(n, channels, (side + 2 * (kernel / 2) - kernel) / stride + 1, (side + 2 * (kernel / 2) - kernel) / stride + 1);
                        var y = nn.functional.conv2d(input, weight, strides: new long[] { stride }, padding: new long[] { kernel / 2 }, groups: channels);
                        y.backward(new[] { outGrad });
                        var (yUsual, gIn, gW) = (y.detach(), input.grad!.clone(), weight.grad!.clone());
                        weight.grad!.zero_();
                        var yl = nn.functional.conv2d(inputLast, weight, strides: new long[] { stride }, padding: new long[] { kernel / 2 }, groups: channels);
                        yl.backward(new[] { outGrad });
                        foreach (var (what, a, b) in new[] { ("output", yUsual, yl.detach()), ("input gradient", gIn, inputLast.grad!), ("weight gradient", gW, weight.grad!) })
                        {
                            double error = ((a - b).abs().max() / a.abs().max()).item<float>();
                            if (error > worst) (worst, worstCase) = (error, $"{what} of depthwise {kernel}x{kernel} stride {stride} on {n}x{channels}x{side}x{side}");
                        }
                    }
        Console.WriteLine($"  depthwise convolutions, channels-last against the usual layout (batches {batch}, {batch / 4}, 77; 8 shapes, kernels 3, 5, 7, strides 1, 2): largest relative difference {worst:E2}, in the {worstCase}");
        using (no_grad())
            foreach (var (inChannels, outChannels, side) in new[] { (64, 128, 2), (128, 256, 2), (256, 512, 1), (256, 512, 2), (256, 512, 4) })
            {
                var input = randn(batch, inChannels, side, side);
                var weight = randn(outChannels, inChannels, 1, 1) * 0.05;
                var reference = einsum("oc,nchw->nohw", weight.to(ScalarType.Float64).reshape(outChannels, inChannels), input.to(ScalarType.Float64)).to(ScalarType.Float32);
                double usual = (nn.functional.conv2d(input, weight) - reference).abs().max().item<float>();
                double last = (nn.functional.conv2d(ChannelsLast(input), weight) - reference).abs().max().item<float>();
                Console.WriteLine($"  1x1 convolution {inChannels}->{outChannels} at {side}x{side}, largest error against float64: usual {usual:E2}, channels-last {last:E2} (largest output {reference.abs().max().item<float>():F2})");
            }
    }

    private static Tensor ChannelsLast(Tensor x) => x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    private static double Time(Func<Tensor> forward, int reps)
    {
        var samples = new List<double>();
        for (int r = 0; r < reps + 2; r++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            forward().square().mean().backward();
            if (r >= 2) samples.Add(clock.Elapsed.TotalMilliseconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
