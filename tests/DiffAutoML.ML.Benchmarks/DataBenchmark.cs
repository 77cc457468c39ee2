namespace DiffAutoML.ML.Benchmarks; internal static class DataBenchmark { public static void Run(string folder) => throw new NotImplementedException(); }
