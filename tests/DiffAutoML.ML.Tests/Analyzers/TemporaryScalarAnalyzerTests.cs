using System.Collections.Immutable;
using DiffAutoML.ML.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DiffAutoML.ML.Tests.Analyzers;

public class TemporaryScalarAnalyzerTests
{
    // Every line marked "// flagged" must get exactly one DAML001; no other line may get one.
    private const string Snippet = """
        using TorchSharp;
        using static TorchSharp.torch;
        class C
        {
            static readonly Scalar Kept = 2.0.ToScalar();
            Scalar? _field;
            void M(Tensor t)
            {
                t.mul_(2.0); // flagged
                var a = t * 2.0; // flagged
                t += 1; // flagged
                float f = t.ToSingle(); // flagged
                t.mul_(3.0.ToScalar()); // flagged
                var c = t.clamp(0, null); // flagged
                var d = (Scalar)4.0; // flagged
                using var s = 2.0.ToScalar();
                t.mul_(s);
                using (var u = 1.0.ToScalar()) t.add_(u, u);
                _field = 4.0.ToScalar();
                t.mul_(Kept);
                var b = t * s + t; // flagged
                t.add_(t); // flagged
                var r = s - t; // flagged
                var q = t.addcdiv(t, t); // flagged
                var ar = arange(s, ScalarType.Float32, null); // flagged
                var bn = nn.BatchNorm2d(4); // flagged
                var b2 = t.add(t * s, s);
                var d2 = t - t - s;
                var ar2 = arange(s, s, s, ScalarType.Float32, null);
                float g = t.item<float>();
                var e = where(t.gt(s), t, s); // DAML002
            }
        }
        """;

    private static async Task<ImmutableArray<Diagnostic>> Analyze(string source)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.Ordinal))
            .Select(p => MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(TorchSharp.torch).Assembly.Location))
            .DistinctBy(r => Path.GetFileName(r.FilePath));
        var compilation = CSharpCompilation.Create("Snippet", new[] { CSharpSyntaxTree.ParseText(source) }, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        Assert.True(errors.Length == 0, string.Join("\n", errors.Select(e => e.ToString())));
        return await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new TemporaryScalarAnalyzer())).GetAnalyzerDiagnosticsAsync();
    }

    [Fact]
    public async Task Every_temporary_scalar_form_is_reported_and_scalars_kept_alive_are_not()
    {
        var diagnostics = await Analyze(Snippet);
        var lines = Snippet.Split('\n');
        var expected = Enumerable.Range(0, lines.Length).Where(i => lines[i].Contains("// flagged")).ToArray();
        var reported = diagnostics.Where(d => d.Id == TemporaryScalarAnalyzer.Id)
            .Select(d => d.Location.GetLineSpan().StartLinePosition.Line).OrderBy(l => l).ToArray();
        Assert.Equal(13, expected.Length);
        Assert.Equal(expected, reported);
        var converted = Assert.Single(diagnostics, d => d.Id == TemporaryScalarAnalyzer.ScalarToTensorId);
        Assert.Contains("// DAML002", lines[converted.Location.GetLineSpan().StartLinePosition.Line]);
    }

    [Fact]
    public async Task Plain_arithmetic_is_left_alone()
    {
        var diagnostics = await Analyze("class D { int M(int x) => x * 2; }");
        Assert.Empty(diagnostics);
    }
}
