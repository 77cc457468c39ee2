using DiffAutoML.ML.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The geometric operations through one affine matrix per sample, with PIL's conventions: the matrix maps an output
/// pixel centre (x + 0.5, y + 0.5) to input coordinates, which are floored (nearest neighbour); pixels that fall
/// outside take the fill value.
/// </summary>
/// <remarks>
/// Sampling is a gather rather than <c>grid_sample</c>: grid_sample's nearest mode rounds half to even, PIL floors,
/// and the two differ on exact ties (common with shears). Coordinates are computed in float64 so that floor
/// decisions agree with a double-precision reference.
/// </remarks>
public static class AffineWarp
{
    /// <summary>Matrices [B, 2, 3] (float64) for ShearX: x_in = x + v y.</summary>
    public static Tensor ShearX(Tensor v) => Matrices(ones_like(v), v, zeros_like(v), zeros_like(v), ones_like(v), zeros_like(v));

    /// <summary>Matrices for ShearY: y_in = v x + y.</summary>
    public static Tensor ShearY(Tensor v) => Matrices(ones_like(v), zeros_like(v), zeros_like(v), v, ones_like(v), zeros_like(v));

    /// <summary>Matrices for TranslateX: x_in = x + v (pixels).</summary>
    public static Tensor TranslateX(Tensor v) => Matrices(ones_like(v), zeros_like(v), v, zeros_like(v), ones_like(v), zeros_like(v));

    /// <summary>Matrices for TranslateY: y_in = y + v (pixels).</summary>
    public static Tensor TranslateY(Tensor v) => Matrices(ones_like(v), zeros_like(v), zeros_like(v), zeros_like(v), ones_like(v), v);

    /// <summary>Matrices for PIL's rotate by <paramref name="degrees"/> counter-clockwise about (W/2, H/2).</summary>
    public static Tensor Rotate(Tensor degrees, long height, long width)
    {
        var radians = degrees.to(ScalarType.Float64) * Scalars.Of(Math.PI / 180);
        // PIL rounds the matrix to 15 decimals, so cos(90 deg) is exactly 0.
        var cos = radians.cos().mul_(Scalars.Of(1e15)).round_().div_(Scalars.Of(1e15));
        var sin = radians.sin().mul_(Scalars.Of(1e15)).round_().div_(Scalars.Of(1e15));
        using Scalar cx = (width / 2.0).ToScalar(), cy = (height / 2.0).ToScalar();
        // cx - cos cx + sin cy and cy - sin cx - cos cy, written without TorchSharp's Scalar - Tensor and + (DAML001).
        return Matrices(cos, -sin, (cos * cx).neg_().add_(cx, Scalars.One).add_(sin * cy, Scalars.One), sin, cos,
            (sin * cx).neg_().add_(cy, Scalars.One).sub_(cos * cy));
    }

    private static Tensor Matrices(Tensor a, Tensor b, Tensor c, Tensor d, Tensor e, Tensor f)
        => stack(new[] { a, b, c, d, e, f }.Select(t => t.to(ScalarType.Float64)).ToArray(), 1).view(-1, 2, 3);

    /// <summary>Applies one matrix per sample to float images [B, C, H, W].</summary>
    public static Tensor Apply(Tensor images, Tensor matrices, double fill)
    {
        long batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3];
        var device = images.device;
        using Scalar heightScalar = height.ToScalar(), widthScalar = width.ToScalar(), lastRow = (height - 1).ToScalar(), lastColumn = (width - 1).ToScalar();
        using var fillScalar = fill.ToScalar();
        var ys = arange(Scalars.Of(0.5), heightScalar, Scalars.One, ScalarType.Float64, device).view(1, height, 1);
        var xs = arange(Scalars.Of(0.5), widthScalar, Scalars.One, ScalarType.Float64, device).view(1, 1, width);
        var m = matrices.to(device).to(ScalarType.Float64);
        Tensor Entry(int row, int col) => m[TensorIndex.Colon, row, col].view(batch, 1, 1);
        // The [B, 1, W] and [B, H, 1] parts are summed once into [B, H, W]: one full-size pass per coordinate.
        var xIn = (Entry(0, 0) * xs).add_(Entry(0, 2), Scalars.One).add(Entry(0, 1) * ys, Scalars.One).floor_().to(ScalarType.Int64);
        var yIn = (Entry(1, 0) * xs).add((Entry(1, 1) * ys).add_(Entry(1, 2), Scalars.One), Scalars.One).floor_().to(ScalarType.Int64);
        var xClamped = xIn.clamp(Scalars.Of(0), lastColumn);
        var yClamped = yIn.clamp(Scalars.Of(0), lastRow);
        var inside = xClamped.eq(xIn).logical_and_(yClamped.eq(yIn));
        // Outside pixels read one extra element appended to every plane, which holds the fill value.
        long plane = height * width;
        var index = where(inside, yClamped.mul_(widthScalar).add_(xClamped, Scalars.One), plane).view(batch, 1, plane).expand(batch, channels, plane);
        var padded = cat(new[] { images.reshape(batch, channels, plane), full(batch, channels, 1, fillScalar, images.dtype, device) }, 2);
        return padded.gather(2, index).view(batch, channels, height, width);
    }
}
