namespace DiffAutoML.ML.Search;

/// <summary>Ready-made search-space shapes.</summary>
public enum SearchSpacePreset
{
    /// <summary>The paper's ImageNet space for 224x224 inputs: stem 16 (stride 2), 20 choice layers [4, 4, 8, 4],
    /// channels 64, 160, 320, 640, tail 1024 (children of about 320 MFLOPs).</summary>
    Paper,
    /// <summary>For small images (28-64 pixels): stem 16 (stride 1), 10 layers [2, 2, 4, 2], channels 32, 64, 128, 256, tail 512.</summary>
    Compact,
    /// <summary>A small space for tests: stem 8, 2 layers [1, 1], channels 16, 32, tail 64.</summary>
    Tiny,
}
