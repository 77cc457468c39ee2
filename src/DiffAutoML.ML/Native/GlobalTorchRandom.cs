using static TorchSharp.torch;

namespace DiffAutoML.ML.Native;

/// <summary>
/// libtorch's global generator, which initializes every new module's weights (and draws dropout masks on CUDA), taken
/// under one lock, so that a Fit's seeded draws are not interleaved with those of another Fit running at the same time.
/// </summary>
internal static class GlobalTorchRandom
{
    private static readonly object Gate = new();

    /// <summary>Seeds the global generator (CPU and CUDA).</summary>
    public static void Seed(long seed)
    {
        lock (Gate) manual_seed(seed);
    }

    /// <summary>Runs <paramref name="draw"/> (which builds modules) right after seeding, with no other Fit's draws between.</summary>
    public static void Seeded(long seed, Action draw)
    {
        lock (Gate)
        {
            manual_seed(seed);
            draw();
        }
    }

    /// <summary>Runs <paramref name="draw"/> (which builds modules whose initial weights are then overwritten) without
    /// advancing the global generator between another Fit's seeding and its draws.</summary>
    public static T Exclusive<T>(Func<T> draw)
    {
        lock (Gate) return draw();
    }
}
