using DiffAutoML.ML.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The fixed pre-processing that searched-policy methods (AutoAugment, PBA) use on CIFAR around the policy: a random
/// crop from the image padded by <see cref="AugmentationOptions.RandomCropPadding"/> pixels (an integer shift in [-p, p]
/// per axis with the fill value moving in), a horizontal flip with probability 1/2, and after the policy one Cutout
/// square of side <see cref="AugmentationOptions.CutoutSize"/> set to the fill value. It is not learned and it runs
/// whichever components are on, so that the ablations and the full search see the same data.
/// </summary>
/// <remarks>
/// Crop and flip are one affine matrix per sample through <see cref="AffineWarp"/> (one gather, exact integer
/// coordinates), before the policy as in torchvision-style pipelines (AutoAugment's own code crops and flips after it).
/// Cutout comes last, as in both, so that no pixel operation (Equalize, AutoContrast) rescales the erased square. The
/// random numbers come from the CPU generator the policy uses, so the same seed gives the same images on every device;
/// with every option off nothing is drawn, and runs without it are unchanged.
/// </remarks>
public sealed class BaselineAugmentation
{
    private readonly AugmentationOptions _options;

    /// <summary>Checks the options against the image size (<see cref="ArgumentOutOfRangeException"/> naming the option).</summary>
    public BaselineAugmentation(AugmentationOptions options, long height, long width)
    {
        _options = options with { };
        long side = Math.Min(height, width);
        if (options.RandomCropPadding >= side)
            throw new ArgumentOutOfRangeException(nameof(AugmentationOptions.RandomCropPadding), options.RandomCropPadding,
                $"The crop padding must be smaller than the images' shorter side ({side} pixels).");
        if (options.CutoutSize > side)
            throw new ArgumentOutOfRangeException(nameof(AugmentationOptions.CutoutSize), options.CutoutSize,
                $"The Cutout square must fit in the images' shorter side ({side} pixels).");
    }

    /// <summary>Whether crop or flip is on (a whole-batch pass before the policy).</summary>
    public bool ShiftsOrFlips => _options.RandomCropPadding > 0 || _options.RandomFlip;

    /// <summary>Random crop and flip of float images [B, C, H, W]; the input itself when both are off.</summary>
    public Tensor CropAndFlip(Tensor images, Generator generator)
    {
        if (!ShiftsOrFlips) return images;
        long batch = images.shape[0];
        int padding = _options.RandomCropPadding;
        // Integers in [-p, p] from floor(u * (2p + 1)) - p; u < 1, so the top value is reached but not passed.
        var shifts = rand(new long[] { batch, 2 }, generator: generator).mul_(Scalars.Of(2 * padding + 1)).floor_().sub_(Scalars.Of(padding));
        var flips = _options.RandomFlip ? rand(new long[] { batch }, generator: generator).lt(Scalars.Of(0.5)) : zeros(batch, ScalarType.Bool);
        return ShiftAndFlip(images, flips, shifts.select(1, 0), shifts.select(1, 1), _options.FillValue); // moved to the device there
    }

    /// <summary>Cutout on float images [B, C, H, W] after the policy; the input itself when it is off.</summary>
    public Tensor Cutout(Tensor images, Generator generator)
    {
        if (_options.CutoutSize == 0) return images;
        long batch = images.shape[0], height = images.shape[2], width = images.shape[3];
        var centres = rand(new long[] { batch, 2 }, generator: generator);
        var rows = centres.select(1, 0).mul(Scalars.Of(height)).floor_().to(ScalarType.Int64);
        var columns = centres.select(1, 1).mul(Scalars.Of(width)).floor_().to(ScalarType.Int64);
        return Cutout(images, rows, columns, _options.CutoutSize, _options.FillValue); // moved to the device there
    }

    /// <summary>
    /// Sample i flipped left-right when <paramref name="flips"/>[i], then shifted so that output pixel (x, y) shows
    /// input pixel (x + dx[i], y + dy[i]); pixels from outside take <paramref name="fill"/>. A crop at offset (p + dx, p + dy)
    /// of the image padded by p is the shift (dx, dy).
    /// </summary>
    public static Tensor ShiftAndFlip(Tensor images, Tensor flips, Tensor dx, Tensor dy, double fill)
    {
        using var scope = NewDisposeScope();
        long width = images.shape[3];
        // AffineWarp maps the output centre x + 0.5 to x_in and floors. Flipped, output x shows the flipped image's
        // x + dx, which is input W - 1 - x - dx: x_in = W - (x + 0.5) - dx, so the sign of dx follows the flip.
        var flipped = HostToDevice.Copy(flips, images.device).to(ScalarType.Float64);
        var sign = flipped.mul(Scalars.Of(-2.0)).add_(Scalars.Of(1.0), Scalars.One);
        var offset = flipped.mul(Scalars.Of((double)width)).add_(sign * HostToDevice.Copy(dx, images.device).to(ScalarType.Float64), Scalars.One);
        var zero = zeros_like(sign);
        var matrices = stack(new[] { sign, zero, offset, zero, ones_like(sign), HostToDevice.Copy(dy, images.device).to(ScalarType.Float64) }, 1).view(-1, 2, 3);
        return AffineWarp.Apply(images, matrices, fill).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sets rows [r - s/2, r - s/2 + s) and columns [c - s/2, c - s/2 + s) of sample i (r = <paramref name="rows"/>[i],
    /// c = <paramref name="columns"/>[i], s/2 rounded down) to <paramref name="fill"/>; the part of the square outside the
    /// image is dropped (DeVries and Taylor's Cutout, whose centre may lie near an edge).
    /// </summary>
    public static Tensor Cutout(Tensor images, Tensor rows, Tensor columns, int size, double fill)
    {
        using var scope = NewDisposeScope();
        long batch = images.shape[0], height = images.shape[2], width = images.shape[3];
        var device = images.device;
        using Scalar half = (size / 2L).ToScalar(), side = ((long)size).ToScalar(), fillScalar = fill.ToScalar();
        using Scalar heightScalar = height.ToScalar(), widthScalar = width.ToScalar();
        var top = HostToDevice.Copy(rows, device).sub(half).view(batch, 1, 1, 1);
        var left = HostToDevice.Copy(columns, device).sub(half).view(batch, 1, 1, 1);
        var ys = arange(Scalars.Of(0), heightScalar, Scalars.One, ScalarType.Int64, device).view(1, 1, height, 1);
        var xs = arange(Scalars.Of(0), widthScalar, Scalars.One, ScalarType.Int64, device).view(1, 1, 1, width);
        var rowsIn = ys.ge(top).logical_and_(ys.lt(top.add(side, Scalars.One)));       // [B, 1, H, 1]
        var columnsIn = xs.ge(left).logical_and_(xs.lt(left.add(side, Scalars.One)));  // [B, 1, 1, W]
        var inside = rowsIn.logical_and(columnsIn);
        return images.masked_fill(inside, fillScalar).MoveToOuterDisposeScope();
    }
}
