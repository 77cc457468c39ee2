using DiffAutoML.ML.Api;
using DiffAutoML.ML.Data;
using DiffAutoML.ML.Search;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiffAutoML.ML.Tests.Api;

/// <summary>Options are validated with errors that name them, copied on construction, and the schema is checked.</summary>
public class EstimatorOptionsTests
{
    public static TheoryData<string> InvalidOptions() => new()
    {
        nameof(DiffAutoMLOptions.Epochs), nameof(DiffAutoMLOptions.TimeBudget), nameof(DiffAutoMLOptions.SearchFraction),
        nameof(DiffAutoMLOptions.BatchSize), nameof(DiffAutoMLOptions.ValidationBatchSize), nameof(DiffAutoMLOptions.LabelSmoothing),
        nameof(DiffAutoMLOptions.ValidationFraction), nameof(DiffAutoMLOptions.RecalibrationBatches), nameof(DiffAutoMLOptions.Threads),
        nameof(DiffAutoMLOptions.ProgressEverySteps), nameof(DiffAutoMLOptions.FixedArchitecture), nameof(DiffAutoMLOptions.WarmupEpochs),
        nameof(DiffAutoMLOptions.Device), nameof(DiffAutoMLOptions.Components), "Data.Channels", "Augmentation.Momentum",
        "Augmentation.RandomCropPadding", "Augmentation.CutoutSize", "Augmentation.TestTimeFlip", "Augmentation.TestTimeShift", "Architecture.LearningRate", "HyperParameters.WeightDecay", "EpochsAndBudget",
    };

    private static DiffAutoMLOptions With(string option)
    {
        var o = new DiffAutoMLOptions();
        switch (option)
        {
            case nameof(DiffAutoMLOptions.Epochs): o.Epochs = 0; break;
            case nameof(DiffAutoMLOptions.TimeBudget): o.TimeBudget = TimeSpan.Zero; break;
            case nameof(DiffAutoMLOptions.SearchFraction): o.SearchFraction = 1.5; break;
            case nameof(DiffAutoMLOptions.BatchSize): o.BatchSize = 1; break;
            case nameof(DiffAutoMLOptions.ValidationBatchSize): o.ValidationBatchSize = 0; break;
            case nameof(DiffAutoMLOptions.LabelSmoothing): o.LabelSmoothing = 1; break;
            case nameof(DiffAutoMLOptions.ValidationFraction): o.ValidationFraction = 0; break;
            case nameof(DiffAutoMLOptions.RecalibrationBatches): o.RecalibrationBatches = 0; break;
            case nameof(DiffAutoMLOptions.Threads): o.Threads = 0; break;
            case nameof(DiffAutoMLOptions.ProgressEverySteps): o.ProgressEverySteps = 0; break;
            case nameof(DiffAutoMLOptions.FixedArchitecture): o.FixedArchitecture = "k3 k4"; break;
            case nameof(DiffAutoMLOptions.WarmupEpochs): o.WarmupEpochs = -1; break;
            case nameof(DiffAutoMLOptions.Device): o.Device = (ComputeDevice)9; break;
            case nameof(DiffAutoMLOptions.Components): o.Components = (DiffAutoMLComponents)64; break;
            case "Data.Channels": o.Data.Channels = 2; break;
            case "Augmentation.Momentum": o.Augmentation.Momentum = 1; break;
            case "Augmentation.RandomCropPadding": o.Augmentation.RandomCropPadding = -4; break;
            case "Augmentation.CutoutSize": o.Augmentation.CutoutSize = -1; break;
            case "Augmentation.TestTimeFlip": o.Augmentation.TestTimeFlip = true; break; // without RandomFlip
            case "Augmentation.TestTimeShift": o.Augmentation.TestTimeShift = true; break; // without RandomCropPadding
            case "Architecture.LearningRate": o.Architecture.LearningRate = double.NaN; break;
            case "HyperParameters.WeightDecay": o.HyperParameters.WeightDecay = 10; break;
            default: o.Epochs = null; o.TimeBudget = null; break;
        }
        return o;
    }

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Every_invalid_option_is_rejected_naming_it(string option)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Auto().DiffAutoML(With(option)));
        var name = option == "EpochsAndBudget" ? "Epochs" : option.Split('.').Last();
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void The_hypergradient_validation_batch_defaults_to_a_quarter_of_the_batch()
    {
        Assert.Equal(32, new DiffAutoMLOptions { BatchSize = 128 }.EffectiveValidationBatchSize);
        Assert.Equal(1, new DiffAutoMLOptions { BatchSize = 2 }.EffectiveValidationBatchSize);
        Assert.Equal(100, new DiffAutoMLOptions { BatchSize = 128, ValidationBatchSize = 100 }.EffectiveValidationBatchSize);
    }

    [Fact]
    public void Options_are_copied_on_construction()
    {
        var options = new DiffAutoMLOptions { BatchSize = 64 };
        options.HyperParameters.LearningRate = 0.3;
        var estimator = new MLContext().DiffAutoML(options);
        options.BatchSize = 8;
        options.HyperParameters.LearningRate = 0.9;
        Assert.Equal(64, estimator.Options.BatchSize);
        Assert.Equal(0.3, estimator.Options.HyperParameters.LearningRate);
    }

    [Fact]
    public void The_paper_profile_is_the_defaults_and_the_efficient_profile_sets_its_six_values_only()
    {
        var defaults = new DiffAutoMLOptions();
        Assert.Equal(defaults, DiffAutoMLOptions.FromProfile(DiffAutoMLProfile.Paper));

        var efficient = DiffAutoMLOptions.FromProfile(DiffAutoMLProfile.Efficient);
        efficient.Validate();
        Assert.Equal(1.1, efficient.Architecture.MaxRelativeCost);
        Assert.True(efficient.Architecture.SampleWithinBudget);
        Assert.Equal(new[] { BlockChoice.Shuffle3, BlockChoice.Shuffle5, BlockChoice.Shuffle7 }, efficient.Architecture.Candidates);
        Assert.True(efficient.SearchSpace.SharedKernels);
        Assert.Equal(0.15, efficient.SearchFraction);
        Assert.False(efficient.HyperParameters.TuneDuringSearch);
        // Everything else is the default: put the six back and the options equal the defaults.
        var restored = efficient with
        {
            SearchFraction = defaults.SearchFraction,
            Architecture = efficient.Architecture with { MaxRelativeCost = null, SampleWithinBudget = false, Candidates = null },
            SearchSpace = efficient.SearchSpace with { SharedKernels = false },
            HyperParameters = efficient.HyperParameters with { TuneDuringSearch = true },
        };
        Assert.Equal(defaults, restored);

        // Each call gives options of their own: changing one leaves the next untouched.
        efficient.Architecture.MaxRelativeCost = 2;
        efficient.SearchSpace.SharedKernels = false;
        var again = DiffAutoMLOptions.FromProfile(DiffAutoMLProfile.Efficient);
        Assert.Equal(1.1, again.Architecture.MaxRelativeCost);
        Assert.True(again.SearchSpace.SharedKernels);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DiffAutoMLOptions.FromProfile((DiffAutoMLProfile)7));
        Assert.Contains("Efficient", e.Message);
    }

    [Fact]
    public void The_catalog_takes_a_profile_with_the_columns_and_the_budget()
    {
        var estimator = new MLContext().Auto().DiffAutoML(labelColumnName: "Kind", imageColumnName: "Picture", timeBudget: TimeSpan.FromMinutes(3),
            profile: DiffAutoMLProfile.Efficient);
        var options = estimator.Options;
        Assert.Equal(("Kind", "Picture"), (options.Data.LabelColumnName, options.Data.ImageColumnName));
        Assert.Equal((TimeSpan?)TimeSpan.FromMinutes(3), options.TimeBudget);
        Assert.Null(options.Epochs);
        Assert.Equal(0.15, options.SearchFraction);
        Assert.Equal(1.1, options.Architecture.MaxRelativeCost);
        Assert.Null(new MLContext().Auto().DiffAutoML().Options.Architecture.MaxRelativeCost);
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
        public float Weight { get; set; }
        public string Label { get; set; } = "";
    }

    // SchemaShape.Create is internal (ML.NET's pipelines call it before GetOutputSchema); the test calls it the same way.
    private static SchemaShape Shape(MLContext ml) => Shape(ml.Data.LoadFromEnumerable(Array.Empty<Row>()).Schema);

    private static SchemaShape Shape(DataViewSchema schema) => (SchemaShape)typeof(SchemaShape)
        .GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
        .Invoke(null, new object[] { schema })!;

    [Fact]
    public void Output_schema_adds_score_and_predicted_label_and_checks_columns()
    {
        var ml = new MLContext();
        var estimator = ml.Auto().DiffAutoML(labelColumnName: "Label", imageColumnName: "ImagePath");
        var output = estimator.GetOutputSchema(Shape(ml));
        var score = output.Single(c => c.Name == "Score");
        Assert.Equal(NumberDataViewType.Single, score.ItemType);
        // A vector of known size whose only annotation is its slot names (the class names), as after Fit; the stand-in
        // columns that describe it are gone.
        Assert.Equal(SchemaShape.Column.VectorKind.Vector, score.Kind);
        var slotNames = Assert.Single(score.Annotations);
        Assert.Equal(("SlotNames", SchemaShape.Column.VectorKind.Vector, (DataViewType)TextDataViewType.Instance),
            (slotNames.Name, slotNames.Kind, slotNames.ItemType));
        Assert.Equal(Shape(ml).Select(c => c.Name).Concat(new[] { "Score", "PredictedLabel" }).Order(), output.Select(c => c.Name).Order());
        Assert.Equal(TextDataViewType.Instance, output.Single(c => c.Name == "PredictedLabel").ItemType);

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Auto().DiffAutoML(imageColumnName: "Picture").GetOutputSchema(Shape(ml)));
        Assert.Contains("'Picture' is not in the data", missing.Message);
        Assert.Contains("'ImagePath'", missing.Message);
        var wrong = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Auto().DiffAutoML(imageColumnName: "Weight").GetOutputSchema(Shape(ml)));
        Assert.Contains("'Weight'", wrong.Message);
        Assert.Contains("expected MLImage", wrong.Message);
    }

    [Fact]
    public void A_key_label_gives_a_predicted_label_key_with_the_label_key_values()
    {
        // ML.NET's trainers describe PredictedLabel so; MapKeyToValue("PredictedLabel") after the estimator needs it.
        var ml = new MLContext();
        var rows = ml.Data.LoadFromEnumerable(new[] { new Row { ImagePath = "a.png", Label = "cat" }, new Row { ImagePath = "b.png", Label = "dog" } });
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
        var shape = Shape(keyed.Schema);
        var predicted = ml.Auto().DiffAutoML(labelColumnName: "Label", imageColumnName: "ImagePath").GetOutputSchema(shape).Single(c => c.Name == "PredictedLabel");
        Assert.True(predicted.IsKey);
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, predicted.Kind);
        Assert.Contains(predicted.Annotations, a => a.Name == "KeyValues");
        var withValues = ml.Auto().DiffAutoML(labelColumnName: "Label", imageColumnName: "ImagePath")
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel")).GetOutputSchema(shape);
        Assert.Equal(TextDataViewType.Instance, withValues.Single(c => c.Name == "PredictedValue").ItemType);
    }

    private static (MLContext Ml, IDataView Data) SubsetTestImages()
    {
        var ml = new MLContext();
        return (ml, IdxDataset.Load(ml, TestPaths.SubsetFile("t10k-images-idx3-ubyte.gz"), TestPaths.SubsetFile("t10k-labels-idx1-ubyte.gz")));
    }

    [Fact]
    public void Budget_below_the_smallest_child_is_refused_with_its_size()
    {
        var (ml, data) = SubsetTestImages();
        var options = new DiffAutoMLOptions { Epochs = 1 };
        options.Architecture.MaxMFlops = 0.01;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Auto().DiffAutoML(options).Fit(data));
        Assert.Contains("smallest child", e.Message);
    }

    [Fact]
    public void A_crop_padding_as_large_as_the_images_is_refused_naming_it_and_the_size()
    {
        var (ml, data) = SubsetTestImages();
        var options = new DiffAutoMLOptions { Epochs = 1 };
        options.Augmentation.RandomCropPadding = 28;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Auto().DiffAutoML(options).Fit(data));
        Assert.Equal("RandomCropPadding", e.ParamName);
        Assert.Contains("28 pixels", e.Message);
    }
}
