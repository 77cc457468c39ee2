using System.Diagnostics;
using DiffAutoML.ML.Native;
using DiffAutoML.ML.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Benchmarks;

/// <summary>
/// One training step with single-path sampling (DSNAS) against the same step forwarding every candidate weighted by
/// softmax(alpha) (the DARTS/AutoHAS way) and against training the child alone. Each mode runs in its own process so
/// that its peak resident memory can be read (targets: single-path within 1.15x of the child's time, at least 2.5x
/// less memory than every-candidate).
/// </summary>
internal static class SearchStepBenchmark
{
    private const int Steps = 12, WarmUp = 3;

    public static void Run(string preset, int batch)
    {
        Console.WriteLine($"search step benchmark: preset {preset}, batch {batch}, {Steps - WarmUp} timed steps after {WarmUp} warm-up, CPU threads {Environment.ProcessorCount}");
        foreach (var mode in new[] { "child", "single-path-fixed", "single-path", "all-candidates" })
            ChildProcess.RunSelf($"search-step {mode} {preset} {batch}");
    }

    private static SearchSpace Space(string preset) => preset == "paper"
        ? new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Paper, Classes = 1000 })
        : new SearchSpace(new SearchSpaceOptions { Preset = SearchSpacePreset.Compact, InputChannels = 1, Height = 28 });

    /// <summary>One mode in this process; <paramref name="uniformChoice"/> replaces the mixed path (layer l takes block
    /// l mod 4) by one block everywhere.</summary>
    public static void RunMode(string mode, string preset, int batch, int? uniformChoice = null)
    {
        TorchRuntime.EnsureCpu();
        manual_seed(1);
        var space = Space(preset);
        int channels = space.Options.InputChannels, h = space.Options.Height!.Value, w = space.Options.Width!.Value;
        var path = Enumerable.Range(0, space.Layers.Count).Select(l => uniformChoice ?? l % 4).ToArray();
        nn.Module<Tensor, Tensor> model;
        ArchitectureParameters? alpha = null;
        Supernet? supernet = null;
        if (mode == "child") model = new ChildNetwork(space, path);
        else if (mode.StartsWith("single-path")) { model = supernet = new Supernet(space) { RecordGateGradients = true }; alpha = new ArchitectureParameters(space, new ArchitectureSearchOptions { EarlyFixMargin = 2 }, CPU, 1); }
        else model = new EveryCandidateNetwork(space);
        var weights = model.parameters().ToArray();
        using var optimizer = optim.SGD(weights, 0.01, momentum: 0.9);
        var x = randn(batch, channels, h, w);
        var y = randint(0, space.Classes, new long[] { batch });
        long baseline = Rss("VmRSS");
        double total = 0;
        for (int step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            var start = Stopwatch.GetTimestamp();
            model.zero_grad(); // gradients set to none: unsampled blocks are skipped by the optimizer
            int[]? sampled = null;
            // "single-path-fixed" forwards the child's own path through the supernet (same work as "child", plus the
            // search's bookkeeping); "single-path" samples a new path every step, as the search does.
            if (supernet is not null) supernet.Path = sampled = mode == "single-path" ? alpha!.SamplePath() : path;
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            loss.backward();
            optimizer.step();
            if (alpha is not null) alpha.Step(supernet!.GateGradients(), sampled!);
            _ = loss.item<float>();
            if (step >= WarmUp) total += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        long peak = Rss("VmHWM");
        Console.WriteLine($"  {mode + (uniformChoice is int u ? $" all-{((BlockChoice)u).ShortName()}" : ""),-15} {total / (Steps - WarmUp),9:F1} ms/step   peak memory above start {(peak - baseline) / 1024.0,8:F0} MiB   (parameters held {weights.Sum(p => p.numel()) / 1e6:F2}M)");
    }

    private static long Rss(string field)
        => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    /// <summary>The comparison baseline: every candidate of every layer forwarded, outputs mixed by softmax(alpha).</summary>
    private sealed class EveryCandidateNetwork : nn.Module<Tensor, Tensor>
    {
        private readonly Sequential stem;
        private readonly ModuleList<ModuleList<ChoiceBlock>> layers;
        private readonly Sequential tail;
        private readonly Linear classifier;
        private readonly Parameter alpha;

        public EveryCandidateNetwork(SearchSpace space) : base(nameof(EveryCandidateNetwork))
        {
            double eps = space.Options.BatchNormEpsilon;
            stem = ConvSequence.Build(new[] { space.Stem }, eps);
            layers = nn.ModuleList(space.Layers.Select(l => nn.ModuleList(Enum.GetValues<BlockChoice>().Select(c => new ChoiceBlock(l.Plan(c), eps)).ToArray())).ToArray());
            tail = ConvSequence.Build(new[] { space.Tail }, eps);
            classifier = nn.Linear(space.Tail.OutChannels, space.Classes);
            alpha = new Parameter(zeros(space.Layers.Count, 4));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            var x = stem.forward(input);
            var weights = alpha.softmax(1);
            for (int l = 0; l < layers.Count; l++)
            {
                Tensor? mixed = null;
                for (int c = 0; c < 4; c++)
                {
                    var y = layers[l][c].forward(x) * weights[l, c];
                    mixed = mixed is null ? y : mixed + y;
                }
                x = mixed!;
            }
            return classifier.forward(tail.forward(x).mean(new long[] { 2, 3 }));
        }
    }
}
