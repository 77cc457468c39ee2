using System.Diagnostics;
using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Search;
using static TorchSharp.torch;

namespace DiffAutoML.ML.Training;

/// <summary>Everything the joint loop needs, prepared by the estimator.</summary>
internal sealed record JointSearchSetup(
    DiffAutoMLOptions Options,
    SearchSpace Space,
    Device Device,
    ScalarType? ComputeType, // the training forwards' arithmetic (MixedPrecision.ComputeType); null: float32
    ImageTensorCache TrainCache,
    int[] TrainRows,
    ImageTensorCache ValidationCache,
    int[] ValidationRows,
    ChannelStatistics Statistics,
    string Fingerprint,
    Stopwatch Clock,
    Action<string> Log);
