namespace DiffAutoML.ML.HyperParameters;

/// <summary>Linear warm-up, then cosine decay to zero over the remaining steps (the paper's schedule).</summary>
public sealed record LearningRateSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps)
{
    /// <summary>Learning rate at step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        double progress = TotalSteps <= WarmupSteps ? 1 : Math.Clamp((double)(step - WarmupSteps) / (TotalSteps - WarmupSteps), 0, 1);
        return PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
