using System.Collections.Concurrent;
using TorchSharp;

namespace DiffAutoML.ML.Native;

/// <summary>
/// TorchSharp Scalars for the constants of the library's tensor code, each created once and kept alive by this cache.
/// A temporary Scalar (<c>t.mul_(2.0)</c>, <c>t * 2.0</c>) can be freed by its finalizer while libtorch is still reading
/// it, which crashed a half-hour run ("Expected false to be true ... toLong"); the build rejects such temporaries
/// (analyzer DAML001, src/DiffAutoML.ML.Analyzers). Values that change from step to step (a learning rate) are not for
/// this cache, which keeps every distinct value for the life of the process: declare those with
/// <c>using var s = value.ToScalar();</c>.
/// </summary>
internal static class Scalars
{
    /// <summary>The integral 1, for the alpha and value arguments that TorchSharp's shorter overloads (<c>a + b</c>,
    /// <c>add_(b)</c>) would fill with a temporary Scalar of their own.</summary>
    public static Scalar One => Of(1L);

    private static readonly ConcurrentDictionary<long, Scalar> Integers = new();
    private static readonly ConcurrentDictionary<double, Scalar> Reals = new();

    /// <summary>An integral Scalar (keeps integer tensors integral, as an int literal would).</summary>
    public static Scalar Of(long value) => Kept(Integers, value, ScalarExtensionMethods.ToScalar);

    /// <summary>A floating-point Scalar.</summary>
    public static Scalar Of(double value) => Kept(Reals, value, ScalarExtensionMethods.ToScalar);

    private static Scalar Kept<T>(ConcurrentDictionary<T, Scalar> cache, T value, Func<T, Scalar> create) where T : notnull
    {
        if (cache.TryGetValue(value, out var kept)) return kept;
#pragma warning disable DAML001 // kept alive by the dictionary (or disposed below)
        var created = create(value);
#pragma warning restore DAML001
        kept = cache.GetOrAdd(value, created);
        if (!ReferenceEquals(kept, created)) created.Dispose(); // another thread added the same value first
        return kept;
    }
}
