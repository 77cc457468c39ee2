using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Search;

/// <summary>
/// Re-estimates batch-norm running statistics for a fixed network: the supernet's statistics mix every sampled path,
/// so after the search the child's are recomputed as a plain average over training batches (DSNAS/SPOS).
/// </summary>
public static class BatchNormRecalibration
{
    /// <summary>Resets every batch norm of <paramref name="network"/> and averages its statistics over <paramref name="batches"/>
    /// (forward in training mode without gradients). The network is left in evaluation mode.</summary>
    public static void Recalibrate(nn.Module<Tensor, Tensor> network, IEnumerable<Tensor> batches)
    {
        var norms = network.modules().OfType<BatchNorm>().ToArray();
        foreach (var bn in norms)
        {
            bn.reset_running_stats();
            bn.momentum = null; // cumulative moving average: every batch counts equally
        }
        network.train();
        using (no_grad())
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                network.forward(batch);
            }
        foreach (var bn in norms) bn.momentum = 0.1;
        network.eval();
    }
}
