namespace DiffAutoML.ML.Search;

/// <summary>One resource the chosen child must keep within: a cost per block [layer][choice] and the most the chosen
/// blocks may add up to (the child's fixed parts already taken off).</summary>
public sealed record ResourceBudget(long[][] Costs, long Limit);
