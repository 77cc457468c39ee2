namespace DiffAutoML.Cli;

internal static class Help
{
    public const string Text = """
        diffautoml - automated deep learning for image classification with ML.NET (DiffAutoML).
        One training run searches the data augmentation, the network architecture and the training
        hyper-parameters together, and the network it trains is the model you deploy.

        Usage:
          diffautoml train <data> [options]       search and train; writes model.zip, model.onnx, report.json, report.html
          diffautoml predict <model.zip> <image or folder>... [--top <n>]
                                                  print the predicted class of each image and its probability
                                                  (--top: the n most probable classes, most probable first)
          diffautoml --version                    the versions of the tool and of the libraries under it

        <data> is a folder with one sub-folder per class (the sub-folder names are the labels), or an
        IDX images file such as train-images-idx3-ubyte.gz (its labels file is found beside it).

        train options:
          --test <data>            evaluate on this data at the end (same kind as <data>, and only its
                                   classes: checked before training)
          --out <folder>           where to write the results (default: ./diffautoml-output)
          --time-budget <time>     stop after this long, e.g. 90s, 10m, 1.5h (the plan is sized to fit)
          --epochs <n>             training epochs (default 30, or what the time budget allows)
          --device <auto|cpu|cuda> where to train (default auto: cuda when a GPU is usable)
          --components <list>      All (default), None (plain training), or a comma list of
                                   Augmentation, Architecture, HyperParameters
          --profile <paper|efficient>  the search's settings: paper (default: the paper's method) or
                                   efficient (a short search of fast-to-train models; better on a CPU
                                   or a short budget); the options below change single values of it
          --architecture "<blocks>" the network to train when Architecture is not searched, one block
                                   per layer, e.g. "xc k3 k3 k3 k3 k3 k3 k3 k3 k3" (default all k3)
          --preset <compact|paper|tiny>  search space (default compact: small images, 28-64 pixels)
          --size <pixels>          resize images to this height and width (default: a typical image's size,
                                   scaled down to at most 64 pixels on its longer side, 224 with --preset
                                   paper; image files only: IDX images keep their size)
          --channels <1|3>         grey or colour (default: grey when every image is grey)
          --batch <n>              mini-batch size (default 128)
          --learning-rate <x>      peak learning rate of the cosine schedule (default 0.1)
          --weight-decay <x>       weight decay to start from (default 4e-5, as DSNAS); learned from there
                                   when HyperParameters is searched
          --width <x>              multiply every channel count of the search space by x (default 1)
          --repeats <list>         choice layers per stage, e.g. 3,4,6,3: a deeper network (default 2,2,4,2;
                                   4,4,8,4 with --preset paper)
          --stage-strides <list>   stride of the first layer of each stage, e.g. 1,2,2,2: a stride of 1
                                   keeps the resolution (28x28 images end at 4x4 instead of 2x2, for
                                   about 3.4x the work; default 2 for every stage)
          --search-fraction <x>    share of the epochs spent searching the architecture (default 0.333)
          --tune-during-search <true|false>  learn the weight decay while the architecture is searched
                                   too (default true); false starts learning it once the architecture is fixed
          --hpo-every <n>          learn the weight decay every n steps (default 1: every step, as the
                                   paper; 10 cuts the extra validation pass to a tenth of its cost)
          --shared-kernels <true|false>  the k3, k5 and k7 candidates of a layer share one set of
                                   weights while searching (default false: separate, as DSNAS)
          --crop-padding <pixels>  fixed augmentation: random crop from the image padded by this many
                                   pixels (default 0: off; 4 is usual for 32x32 photos)
          --flip <true|false>      fixed augmentation: flip left-right with probability 1/2 (default
                                   false; leave it off for digits and text)
          --test-time-flip <true|false>  score each image as the average over it and its mirror image
                                   (default false; needs --flip true)
          --test-time-shift <true|false>  score each image as the average over it and its four
                                   one-pixel shifts (with --test-time-flip, their mirror images too;
                                   default false; needs --crop-padding 1 or more)
          --cutout <pixels>        fixed augmentation: one square of this side blanked per image
                                   (default 0: off); the three apply whatever --components says
          --seed <n>               random seed (default 1)
          --threads <n>            CPU threads for training (default: TorchSharp's choice, about one per
                                   core); on the CPU one thread and the same seed repeat a run exactly
          --tune-allocator <true|false>  on Linux, keep the memory libtorch frees for reuse while training
                                   (default true: steps on images of 64x64 and up run 4-12x faster, for up to
                                   1.6x the peak memory); false leaves glibc's malloc as it is
          --cudnn-benchmark <true|false>  on CUDA, let cuDNN time its convolution algorithms for each
                                   shape and keep the fastest (PyTorch's cudnn.benchmark; default: leave
                                   libtorch's setting, off)
          --precision <Float32|BFloat16>  arithmetic of the training steps: BFloat16 runs their forward
                                   and backward passes in bfloat16 on CUDA (mixed precision: weights,
                                   optimizer, validation and the model stay float32; not applied on the
                                   CPU; default Float32)
          --max-mflops <x>         keep the model under x million multiply-adds per image
          --max-relative-cost <x>  keep the model's measured training cost within x times the cheapest
                                   model's (e.g. 1.2; every candidate block is timed on this machine)
          --sample-within-budget <true|false>  while searching, train only models within the budgets
                                   above (default false: every model is sampled, as DSNAS)
          --candidates <blocks>    the blocks the search may choose in each layer, e.g. k3,k5,k7
                                   (default all four: k3 k5 k7 xc)
          --fashion-mnist          name the 10 classes of an IDX file as Fashion-MNIST's
          --fresh                  ignore the checkpoint of an earlier run in <out>/checkpoints
          --quiet                  no progress display

        Ctrl-C stops after the current step; the last finished epoch is kept in <out>/checkpoints, and
        running the same command again continues from there.

        Examples:
          diffautoml train ./flowers --test ./flowers-test --time-budget 10m --profile efficient --out ./run1
          diffautoml predict ./run1/model.zip ./new-photos --top 3
        """;

    public static int Print()
    {
        Console.WriteLine(Text);
        return 0;
    }
}
