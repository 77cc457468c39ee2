namespace DiffAutoML.ML.Tests;

/// <summary>
/// Tests that train networks or start processes run one at a time, after the others, so that they do not compete for
/// the machine's two cores (time-budget behaviour depends on measured step times).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeavyTestsCollection
{
    public const string Name = "Heavy";
}
