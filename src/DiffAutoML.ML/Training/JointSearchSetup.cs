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
    ImageTensorCache TrainCache,
    int[] TrainRows,
    ImageTensorCache ValidationCache,
    int[] ValidationRows,
    ChannelStatistics Statistics,
    string Fingerprint,
    Stopwatch Clock,
    Action<string> Log);
