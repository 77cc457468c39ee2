using DiffAutoML.ML.Api;
using Microsoft.ML;

namespace DiffAutoML.ML;

/// <summary>The DiffAutoML entry points on an <see cref="MLContext"/>.</summary>
public sealed class DiffAutoMLCatalog
{
    private readonly MLContext _mlContext;

    internal DiffAutoMLCatalog(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>A DiffAutoML estimator with the given options (copied).</summary>
    public DiffAutoMLEstimator DiffAutoML(DiffAutoMLOptions options) => new(_mlContext, options);

    /// <summary>A DiffAutoML estimator with the options of <paramref name="profile"/> for the given columns.</summary>
    /// <param name="labelColumnName">The label column (key, text, number or boolean).</param>
    /// <param name="imageColumnName">The image column (MLImage, path, or pixel vector).</param>
    /// <param name="timeBudget">Wall-clock limit; null = 30 epochs.</param>
    /// <param name="profile">The option set (<see cref="DiffAutoMLOptions.FromProfile"/>): the paper's method by
    /// default; <see cref="DiffAutoMLProfile.Efficient"/> measured better where compute is short.</param>
    public DiffAutoMLEstimator DiffAutoML(string labelColumnName = "Label", string imageColumnName = "Image", TimeSpan? timeBudget = null,
        DiffAutoMLProfile profile = DiffAutoMLProfile.Paper)
    {
        var options = DiffAutoMLOptions.FromProfile(profile);
        options.Data.LabelColumnName = labelColumnName;
        options.Data.ImageColumnName = imageColumnName;
        if (timeBudget is not null)
        {
            options.TimeBudget = timeBudget;
            options.Epochs = null;
        }
        return new DiffAutoMLEstimator(_mlContext, options);
    }
}

/// <summary>
/// <c>mlContext.Auto().DiffAutoML(...)</c>. Microsoft.ML.AutoML also defines <c>mlContext.Auto()</c>: a file that imports
/// both <c>Microsoft.ML</c> (with that package) and <c>DiffAutoML.ML</c> gets an ambiguous call; use
/// <c>mlContext.DiffAutoML(...)</c> or <c>new DiffAutoMLEstimator(...)</c> there.
/// </summary>
public static class DiffAutoMLCatalogExtensions
{
    /// <summary>The DiffAutoML catalog of <paramref name="mlContext"/>.</summary>
    public static DiffAutoMLCatalog Auto(this MLContext mlContext) => new(mlContext ?? throw new ArgumentNullException(nameof(mlContext)));

    /// <summary>A DiffAutoML estimator (same as <c>mlContext.Auto().DiffAutoML(options)</c>).</summary>
    public static DiffAutoMLEstimator DiffAutoML(this MLContext mlContext, DiffAutoMLOptions options) => new(mlContext, options);
}
