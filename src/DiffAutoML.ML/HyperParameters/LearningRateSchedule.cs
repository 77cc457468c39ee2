namespace DiffAutoML.ML.HyperParameters;

/// <summary>
/// Linear warm-up, then cosine decay to zero over the remaining steps (the paper's schedule). A schedule re-fitted to a
/// new length during a run (<see cref="RefitFrom"/>) keeps its rate at the re-fit step and runs the rest of the cosine,
/// from the phase it had reached, to zero at the new end: the rate never jumps, whether the run gets longer or shorter.
/// </summary>
public sealed record LearningRateSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps)
{
    /// <summary>The step from which the decay runs to zero at <see cref="TotalSteps"/>: the end of the warm-up, or the
    /// step of the last <see cref="RefitFrom"/>.</summary>
    public long DecayFromStep { get; init; } = WarmupSteps;

    /// <summary>How far through the cosine (0 to 1) the decay is at <see cref="DecayFromStep"/>.</summary>
    public double DecayFromProgress { get; init; }

    /// <summary>
    /// The schedule for a plan of <paramref name="totalSteps"/>, its warm-up at most half of them, so that the rate
    /// always decays: with the default one warm-up epoch, a one-epoch run was all warm-up and ended at its peak rate.
    /// </summary>
    public static LearningRateSchedule ForPlan(double peakLearningRate, int warmupSteps, int totalSteps)
        => new(peakLearningRate, Math.Min(warmupSteps, totalSteps / 2), totalSteps);

    /// <summary>Learning rate at step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        return PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * Progress(step)));
    }

    /// <summary>The schedule for the steps from <paramref name="step"/> on, ending at <paramref name="totalSteps"/>
    /// instead: during the warm-up only the end moves; after it the rate at <paramref name="step"/> is kept and the rest
    /// of the cosine is stretched or shrunk to fit.</summary>
    public LearningRateSchedule RefitFrom(long step, int totalSteps)
        => step <= DecayFromStep
            ? this with { TotalSteps = totalSteps }
            : this with { TotalSteps = totalSteps, DecayFromStep = step, DecayFromProgress = Progress(step) };

    private double Progress(long step)
    {
        if (TotalSteps <= DecayFromStep) return 1;
        double fraction = Math.Clamp((double)(step - DecayFromStep) / (TotalSteps - DecayFromStep), 0, 1);
        return DecayFromProgress + (1 - DecayFromProgress) * fraction;
    }
}
