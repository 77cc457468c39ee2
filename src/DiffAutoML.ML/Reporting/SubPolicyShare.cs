namespace DiffAutoML.ML.Reporting;

/// <summary>An augmentation sub-policy and its probability under tau.</summary>
public sealed record SubPolicyShare(string Name, double Probability);
