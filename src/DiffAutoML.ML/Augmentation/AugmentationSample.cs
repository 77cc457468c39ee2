using static TorchSharp.torch;

namespace DiffAutoML.ML.Augmentation;

/// <summary>
/// The sub-policy, magnitude levels and signs drawn for every sample of one batch, all on the training device. Its
/// tensors belong to the dispose scope the sample was drawn in (one training step).
/// </summary>
/// <param name="SubPolicies">Sub-policy index k_i per sample, int64 [B] (for the loss, eq. 2).</param>
/// <param name="First">First operation of each sample's pair, int64 [B] (<see cref="AugmentationOperation"/> ids).</param>
/// <param name="Second">Second operation of each sample's pair, int64 [B].</param>
/// <param name="Levels">Magnitude levels, float [B, 2], Uniform[0, 10] per sample and operation.</param>
/// <param name="Signs">+1 or -1, float [B, 2], for the signed (geometric) operations.</param>
public sealed record AugmentationSample(Tensor SubPolicies, Tensor First, Tensor Second, Tensor Levels, Tensor Signs);
