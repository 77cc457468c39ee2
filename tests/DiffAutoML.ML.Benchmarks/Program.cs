using DiffAutoML.ML.Benchmarks;

// Entry point: dataset tools and benchmarks, one command per run. Results go to standard output (and
// docs/benchmarks.md by hand, with the command that produced them).
var command = args.Length > 0 ? args[0] : "help";
switch (command)
{
    case "make-subset":
        DatasetTools.MakeSubset(Arg(1, DatasetTools.DebianFolder), Arg(2, "samples/data/fashion-mnist-subset"), 500, 100, 20);
        break;
    case "prepare-full":
        PrepareFull(Arg(1, DatasetTools.DebianFolder), Arg(2, "artifacts/data/fashion-mnist"));
        break;
    case "make-shapes":
        ShapesDataset.Write(Arg(1, "artifacts/data/shapes/train"), int.Parse(Arg(2, "150")), int.Parse(Arg(3, "1")),
            args.Length > 4 && args[4].Split('x') is [var w, var h] ? (int.Parse(w), int.Parse(h)) : null);
        break;
    case "photo-decode":
        PhotoDecodeBenchmark.Run(Arg(1, "artifacts/data/shapes/train"), int.Parse(Arg(2, "64")));
        break;
    case "data":
        DataBenchmark.Run(Arg(1, "artifacts/data/fashion-mnist"));
        break;
    case "augmentation":
        AugmentationBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"));
        break;
    case "augmentation-sizes":
        AugmentationBenchmark.RunSizes(int.Parse(Arg(1, "128")));
        break;
    case "augmentation-paths":
        AugmentationPathBenchmark.Run(Arg(1, "cpu"), int.Parse(Arg(2, "256")), int.Parse(Arg(3, "20")));
        break;
    case "weight-step":
        WeightStepBenchmark.Run(Arg(1, "cpu"), int.Parse(Arg(2, "200")), double.Parse(Arg(3, "1"), System.Globalization.CultureInfo.InvariantCulture));
        break;
    case "cudnn-benchmark":
        CudnnBenchmarkModeBenchmark.Run(Arg(1, "cpu"), int.Parse(Arg(2, "1024")), int.Parse(Arg(3, "50")), double.Parse(Arg(4, "2"), System.Globalization.CultureInfo.InvariantCulture));
        break;
    case "channels-last":
        ChannelsLastBenchmark.Run(int.Parse(Arg(1, "128")), int.Parse(Arg(2, "15")));
        break;
    case "row-costs":
        RowCostBenchmark.Run(Arg(1, "cpu"), double.Parse(Arg(2, "2"), System.Globalization.CultureInfo.InvariantCulture), int.Parse(Arg(3, "1024")), int.Parse(Arg(4, "20480")), int.Parse(Arg(5, "3")));
        break;
    case "search":
        SearchStepBenchmark.Run(Arg(1, "compact"), int.Parse(Arg(2, "128")));
        break;
    case "scoring":
        ScoringBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"));
        break;
    case "scoring-memory":
        ScoringMemoryBenchmark.Run(int.Parse(Arg(1, "300")), int.Parse(Arg(2, "2000")));
        break;
    case "hpo":
        HyperparameterBenchmark.Run(int.Parse(Arg(1, "128")), int.Parse(Arg(2, "5")));
        break;
    case "subset-evidence":
        SubsetEvidenceBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"), int.Parse(Arg(2, "240")));
        break;
    case "profiles":
        ProfileBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"), int.Parse(Arg(2, "40")), int.Parse(Arg(3, "3")));
        break;
    case "supernet-training":
        SupernetTrainingBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"), int.Parse(Arg(2, "4")));
        break;
    case "joint-step":
        JointStepBenchmark.Run(Arg(1, "samples/data/fashion-mnist-subset"), int.Parse(Arg(2, "2")), Arg(3, "cpu"));
        break;
    case "step-compare":
        StepComparisonBenchmark.Run(Arg(1, "compact"), int.Parse(Arg(2, "128")), int.Parse(Arg(3, "50")), Arg(4, "cpu"), Arg(5, "") == "augment");
        break;
    case "search-step":
        SearchStepBenchmark.RunMode(args[1], args[2], int.Parse(args[3]), args.Length > 4 ? int.Parse(args[4]) : null);
        break;
    case "flip-averaging":
        FlipAveragingBenchmark.Run(Arg(1, "artifacts/data/fashion-mnist"), args.Skip(2));
        break;
    case "view-averaging":
        ViewAveragingBenchmark.Run(Arg(1, "artifacts/data/fashion-mnist"), args.Skip(2));
        break;
    case "input-sizes":
        InputSizeBenchmark.Run(Arg(1, "28x28,48x64,60x60,64x64,66x66,96x96,128x128"), int.Parse(Arg(2, "128")), int.Parse(Arg(3, "3")), Arg(4, "main"));
        break;
    case "input-sizes-run":
        InputSizeBenchmark.RunInThisProcess(args[1] == "fit-settings", args[2], int.Parse(args[3]), int.Parse(args[4]), args.Length > 5 ? args[5] : "main");
        break;
    case "block-costs":
        BlockCostBenchmark.Run(int.Parse(Arg(1, "128")));
        break;
    default:
        Console.WriteLine("""
            usage: dotnet run -c Release --project tests/DiffAutoML.ML.Benchmarks -- <command> [args]
              make-subset [source] [output]   write the shipped Fashion-MNIST subset (IDX + a few PNG folders)
              prepare-full [source] [output]  copy the full Fashion-MNIST IDX files and write train-png/ test-png/ folders
              make-shapes [output] [per class] [seed] [WxH]  a synthetic folder of mixed-size (or WxH), mixed-format colour images, 3 classes
              photo-decode [folder] [side]    ms per image of each step of loading a photo and resizing it (one thread)
              data [folder]                   decode-and-cache throughput (PNG vs IDX) and batch assembly share of a step
              augmentation [subset]           batched vs per-image augmentation, and its share of a training step
              augmentation-sizes [batch]      the same comparison on random 1x28x28 to 3x224x224 images
              augmentation-paths [cpu|cuda] [batch] [calls]  the policy's augmentation grouped (one host read) against by selection (none)
              weight-step [cpu|cuda] [steps] [width]  the optimizer's step with the parameters in one buffer against each apart
              cudnn-benchmark [cpu|cuda] [batch] [steps] [width]  a training step of the all-k3 child (stage strides 1,2,2,2) with cuDNN's benchmark mode off and on
              channels-last [batch] [reps]    the all-k3 child's step and depthwise convolutions in the usual layout and channels-last (NHWC), and libtorch's 1x1 convolutions in both against float64
              row-costs [cpu|cuda] [width] [batch] [images] [epochs]  images/s of the GPU's best row (fixed all-k3, crop, flip, Cutout, weight decay tuned) through Fit, with the hypergradient every 10 steps, without it, plain, and (CUDA) in bfloat16 and with cuDNN's benchmark mode
              search [compact|paper] [batch]  single-path step vs every-candidate step vs the child alone (time, peak memory)
              input-sizes [HxW,...] [batch] [channels] [main,pool]  training step time of the all-k3 child per input size, glibc's malloc defaults, Fit's mallopt, and that with libtorch's huge pages, on the main thread and/or a pool thread
              block-costs [batch]             measured block costs (BlockCostTable) against the training steps of the all-k3/k5/k7/xc children
              flip-averaging [folder] model.onnx...  test accuracy as is, mirrored and with the two outputs averaged
              view-averaging [folder] model.onnx...  test accuracy with the outputs of flips and one-pixel shifts averaged
              hpo [batch] [rounds]            training step cost with hypergradient HPO against without
              subset-evidence [subset] [budget s]  All and the three ablations, same seed and time budget, tested on the subset's test set
              profiles [subset] [epochs] [seeds]  the Paper and Efficient profiles, full search, same epochs, per seed (default 40 epochs, 3 seeds)
              supernet-training [subset] [epochs]  training accuracy per epoch: child, supernet with shared / per-candidate projections / shared kernels, budget-like paths, scaled kernels
              joint-step [subset] [rounds] [cpu|cuda]  one joint search step (DA + NAS + HPO) against one plain step of the same child
              step-compare [compact|paper] [batch] [steps] [cpu|cuda] [augment]  the joint search step in TorchSharp, twin of
                                              scripts/step_comparison.py (one JSON line: ms per step, images/s)
              scoring [subset]                images/s: ML.NET chain vs ONNX Runtime directly vs TorchSharp eval
              scoring-memory [rows] [side]    working-set rise while the chains score large PNG files (default 300 rows, 2000x2000)
            """);
        break;
}

string Arg(int index, string fallback) => args.Length > index ? args[index] : fallback;

static void PrepareFull(string source, string output)
{
    Directory.CreateDirectory(output);
    foreach (var f in Directory.GetFiles(source, "*-ubyte.gz")) File.Copy(f, Path.Combine(output, Path.GetFileName(f)), true);
    foreach (var (prefix, folder) in new[] { ("train", "train-png"), ("t10k", "test-png") })
    {
        var target = Path.Combine(output, folder);
        if (Directory.Exists(target)) Directory.Delete(target, true);
        var content = DiffAutoML.ML.Data.IdxDataset.Read(Path.Combine(output, $"{prefix}-images-idx3-ubyte.gz"), Path.Combine(output, $"{prefix}-labels-idx1-ubyte.gz"));
        DatasetTools.WritePngFolders(target, content.Pixels, content.Labels, content.Height, content.Width);
    }
}
