namespace DiffAutoML.ML.Api;

/// <summary>The number format of the training steps' arithmetic.</summary>
public enum TrainingPrecision
{
    /// <summary>float32 throughout.</summary>
    Float32,

    /// <summary>
    /// Mixed precision: the training forward and backward of the convolutions, batch norms and classifier run in bfloat16,
    /// while the weights, their gradients, the optimizer, the batch-norm statistics, the loss and every evaluation stay
    /// float32 (what torch.autocast does for bfloat16; bfloat16 keeps float32's range, so no loss scaling). Half the
    /// bytes per activation, for GPUs whose training step is bound by memory traffic; the returned model is float32.
    /// CUDA only: on the CPU, where libtorch's bfloat16 convolutions are wrong for some shapes, Fit logs that it is not
    /// applied and trains in float32.
    /// </summary>
    BFloat16,
}
