namespace DiffAutoML.ML.Augmentation;

/// <summary>Settings of the augmentation policy tau and its optimizer.</summary>
public sealed record class AugmentationOptions
{
    /// <summary>The operation set; ignored when <see cref="Operations"/> is given.</summary>
    public AugmentationSpace Space { get; set; } = AugmentationSpace.Full;

    /// <summary>An explicit operation set (at least one, no repeats); null = <see cref="Space"/>.</summary>
    public IReadOnlyList<AugmentationOperation>? Operations { get; set; }

    /// <summary>SGD learning rate for tau. The paper's 1e-5 is for a loss summed over 1,024 samples; this library
    /// averages over the batch, which makes gradients about 1,000 times smaller. See docs/algorithm.md.</summary>
    public double LearningRate { get; set; } = 10;

    /// <summary>SGD momentum for tau (paper: 0.9).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>L2 decay on tau, which bounds the logits (smaller values let tau collapse onto one sub-policy in long
    /// runs; see docs/algorithm.md).</summary>
    public double WeightDecay { get; set; } = 2e-4;

    /// <summary>Value (0..255) of pixels that geometric operations move in from outside the image (PIL: 0).</summary>
    public double FillValue { get; set; }

    /// <summary>Random crop from the image padded by this many pixels on every side (0 = off; CIFAR's usual 4 for
    /// 32x32). Part of the fixed pre-processing (<see cref="BaselineAugmentation"/>), applied whichever components run.</summary>
    public int RandomCropPadding { get; set; }

    /// <summary>Flip training images left-right with probability 1/2 (off by default: wrong for digits and text).
    /// Part of the fixed pre-processing, applied whichever components run.</summary>
    public bool RandomFlip { get; set; }

    /// <summary>Score each image as the average of the network's softmax outputs on it and on its left-right mirror
    /// image (test-time flip; the returned model runs the network on a batch twice the size). Needs
    /// <see cref="RandomFlip"/>: a network never trained on mirrored images scores them badly (docs/benchmarks.md,
    /// "Test-time flip"). Validation during Fit, which picks the returned epoch, scores the images as they are.</summary>
    public bool TestTimeFlip { get; set; }

    /// <summary>Score each image as the average of the network's softmax outputs on it and on its four one-pixel shifts
    /// (left, right, up, down; <see cref="FillValue"/> moves in), with <see cref="TestTimeFlip"/> on their mirror images
    /// too (<see cref="TestTimeViews"/>: 5 views, 10 with the flip; the returned model scores a batch that many times the
    /// size). Needs <see cref="RandomCropPadding"/>: a network trained without shifts can score shifted images worse
    /// (docs/benchmarks.md, "Test-time shifts").</summary>
    public bool TestTimeShift { get; set; }

    /// <summary>Side in pixels of one Cutout square per training image, set to <see cref="FillValue"/> after the policy
    /// (0 = off; CIFAR's usual 16 for 32x32). Part of the fixed pre-processing, applied whichever components run.</summary>
    public int CutoutSize { get; set; }

    /// <summary>The operations in use, in enum order.</summary>
    public IReadOnlyList<AugmentationOperation> ResolveOperations() => Operations ?? (Space == AugmentationSpace.Full
        ? Enum.GetValues<AugmentationOperation>()
        : new[] { AugmentationOperation.ShearX, AugmentationOperation.ShearY, AugmentationOperation.TranslateX, AugmentationOperation.TranslateY });

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        var ops = ResolveOperations();
        if (ops.Count == 0) throw new ArgumentOutOfRangeException(nameof(Operations), "At least one augmentation operation is needed.");
        if (ops.Distinct().Count() != ops.Count) throw new ArgumentOutOfRangeException(nameof(Operations), "Augmentation operations must not repeat.");
        if (ops.Any(o => !Enum.IsDefined(o))) throw new ArgumentOutOfRangeException(nameof(Operations), "Unknown augmentation operation.");
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a finite number >= 0.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be a finite number >= 0.");
        if (RandomCropPadding < 0) throw new ArgumentOutOfRangeException(nameof(RandomCropPadding), RandomCropPadding, "The crop padding must be >= 0 pixels.");
        if (TestTimeShift && RandomCropPadding < 1)
            throw new ArgumentOutOfRangeException(nameof(TestTimeShift), TestTimeShift, "TestTimeShift averages each image's scores with those of its one-pixel shifts, which helps a network trained on shifted images: set RandomCropPadding to 1 or more too.");
        if (TestTimeFlip && !RandomFlip)
            throw new ArgumentOutOfRangeException(nameof(TestTimeFlip), TestTimeFlip, "TestTimeFlip averages each image's scores with those of its mirror image, which only helps a network trained on mirrored images: set RandomFlip too.");
        if (CutoutSize < 0) throw new ArgumentOutOfRangeException(nameof(CutoutSize), CutoutSize, "The Cutout size must be >= 0 pixels.");
        if (!(FillValue >= 0 && FillValue <= 255)) throw new ArgumentOutOfRangeException(nameof(FillValue), FillValue, "The fill value must be in [0, 255].");
    }
}
