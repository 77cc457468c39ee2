using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace DiffAutoML.ML.Analyzers;

/// <summary>
/// Reports every TorchSharp.Scalar that would live only as a temporary. TorchSharp 0.107's Scalar frees its native
/// value in a finalizer, and its tensor methods pass <c>scalar.Handle</c> to libtorch without keeping the Scalar alive,
/// so a garbage collection during the native call (a background GC runs beside the training thread) can free the value
/// libtorch is reading: a crash ("Expected false to be true ... toLong", "Unknown scalar type", "alpha must not be a
/// floating point number") or a silently wrong number. Five forms create such temporaries: a conversion to Scalar
/// (<c>t.mul_(2.0)</c>, <c>clamp(0, 255)</c>); a TorchSharp operator with a number operand (<c>t * 2.0</c> converts
/// inside TorchSharp); the Tensor-to-number extensions (<c>t.ToSingle()</c> goes through a temporary Scalar;
/// <c>item&lt;T&gt;()</c> does not); TorchSharp members that pass a default of their own as a Scalar (<c>a + b</c>,
/// <c>a.add(b)</c> and <c>add_(b)</c> add with alpha 1, <c>2.0 - t</c> too, <c>addcdiv(a, b)</c> with value 1,
/// <c>arange(n)</c> with start 0 and step 1); and TorchSharp's batch-norm modules, whose training forward counts
/// batches with <c>add_(1)</c> (stress-tested in TemporaryScalarRaceTests). The safe form keeps the Scalar in a using
/// declaration or a field for as long as libtorch may read it, and passes every Scalar argument explicitly.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TemporaryScalarAnalyzer : DiagnosticAnalyzer
{
    /// <summary>The diagnostic's id.</summary>
    public const string Id = "DAML001";

    /// <summary>The id of the second rule: a Scalar converted to a Tensor.</summary>
    public const string ScalarToTensorId = "DAML002";

    private static readonly DiagnosticDescriptor Rule = new(
        Id,
        "Temporary TorchSharp Scalar",
        "{0} creates a temporary TorchSharp Scalar that a garbage collection can free while libtorch reads it; {1}",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "TorchSharp 0.107 frees a Scalar's native value in its finalizer and does not keep it alive during native calls.");

    // TorchSharp 0.107 declares an implicit Scalar-to-Tensor conversion that throws "Should not be called" at run time,
    // so an overload resolved through it (where(mask, tensor, scalar)) compiles and then fails on first use.
    private static readonly DiagnosticDescriptor ScalarToTensorRule = new(
        ScalarToTensorId,
        "Scalar converted to a Tensor",
        "TorchSharp's conversion from Scalar to Tensor throws at run time; pass a number (a 0-dimensional tensor) or use an overload that takes a Scalar",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    private static readonly ImmutableHashSet<string> NumberExtensions = ImmutableHashSet.Create(
        "ToSingle", "ToDouble", "ToInt64", "ToInt32", "ToInt16", "ToByte", "ToSByte", "ToBoolean", "ToHalf", "ToBFloat16",
        "ToComplexFloat32", "ToComplexFloat64", "ToComplex32", "ToComplex64");

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule, ScalarToTensorRule);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            if (scalar is null) return; // a project without TorchSharp
            start.RegisterOperationAction(c => AnalyzeConversion(c, scalar), OperationKind.Conversion);
            start.RegisterOperationAction(c => AnalyzeOperator(c, ((IBinaryOperation)c.Operation).OperatorMethod), OperationKind.Binary);
            start.RegisterOperationAction(c => AnalyzeOperator(c, ((ICompoundAssignmentOperation)c.Operation).OperatorMethod), OperationKind.CompoundAssignment);
            start.RegisterOperationAction(c => AnalyzeInvocation(c, scalar), OperationKind.Invocation);
        });
    }

    private static void AnalyzeConversion(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (SymbolEqualityComparer.Default.Equals(conversion.Operand.Type, scalar) && conversion.Type?.Name == "Tensor" && IsTorchSharp(conversion.Type))
        {
            context.ReportDiagnostic(Diagnostic.Create(ScalarToTensorRule, conversion.Syntax.GetLocation()));
            return;
        }
        if (!SymbolEqualityComparer.Default.Equals(conversion.Type, scalar)) return;
        if (conversion.Operand.Type is null || SymbolEqualityComparer.Default.Equals(conversion.Operand.Type, scalar)) return;
        if (IsKeptAlive(conversion)) return;
        Report(context, $"Converting {conversion.Operand.Type.ToDisplayString()} to Scalar", "use 'using var s = value.ToScalar();' and pass s");
    }

    private static void AnalyzeOperator(OperationAnalysisContext context, IMethodSymbol? method)
    {
        if (method is null || !IsTorchSharp(method)) return;
        // TorchSharp's + calls add(x) and its Scalar - Tensor calls negative().add(x): both add with a temporary alpha.
        if (method.Name == "op_Addition" || method.Name == "op_Subtraction" && method.Parameters[1].Type.Name == "Tensor" && method.Parameters[0].Type.Name != "Tensor")
        {
            Report(context, $"TorchSharp's operator {(method.Name == "op_Addition" ? "+" : "-")} (it adds with an alpha of its own)",
                "call add(x, alpha) with a kept Scalar (Scalars.One), or sub for a difference");
            return;
        }
        foreach (var parameter in method.Parameters)
        {
            if (parameter.Type.SpecialType is >= SpecialType.System_Boolean and <= SpecialType.System_Double)
            {
                Report(context, $"TorchSharp's operator {method.Name} with a {parameter.Type.ToDisplayString()} operand",
                    "call the method with a Scalar kept in a using declaration (t.mul(s), not t * 2.0)");
                return;
            }
        }
    }

    private static void AnalyzeInvocation(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var invocation = (IInvocationOperation)context.Operation;
        var method = invocation.TargetMethod;
        if (!IsTorchSharp(method)) return;
        if (NumberExtensions.Contains(method.Name) && method.IsExtensionMethod && method.ContainingType.Name == "TensorExtensionMethods")
        {
            Report(context, $"Tensor.{method.Name}()", "read the value with item<T>() instead");
            return;
        }
        if (method.Name == "ToScalar" && SymbolEqualityComparer.Default.Equals(method.ReturnType, scalar) && !IsKeptAlive(invocation))
        {
            Report(context, "A ToScalar() result that is not kept in a using declaration or a field", "declare it with 'using var'");
            return;
        }
        if (DefaultScalarArgument(method) is { } fix)
            Report(context, $"TorchSharp's {method.Name} with {method.Parameters.Length} parameter(s) (it passes a Scalar of its own)", fix);
    }

    /// <summary>How to call a TorchSharp member that would pass a temporary Scalar of its own (a default alpha, value,
    /// start or step, or batch-norm's batch count), or null when it passes none.</summary>
    private static string? DefaultScalarArgument(IMethodSymbol method)
    {
        int arguments = method.Parameters.Length;
        return method.Name switch
        {
            "add" or "add_" when arguments == 1 && method.ContainingType.Name == "Tensor" => "pass alpha too: add(x, Scalars.One)",
            "addcdiv" or "addcdiv_" when arguments == 2 && method.ContainingType.Name == "Tensor" => "pass the value too: addcdiv(a, b, Scalars.One)",
            "arange" when !System.Linq.Enumerable.Any(method.Parameters, p => p.Name == "step") => "pass start, stop and step as kept Scalars",
            "BatchNorm1d" or "BatchNorm2d" or "BatchNorm3d" when method.ContainingType.Name == "nn" => "use KeptScalarBatchNorm2d (DiffAutoML.ML.Search), whose forward counts batches with a kept Scalar",
            _ => null,
        };
    }

    /// <summary>True when the Scalar is the initializer of a using-declared local or is stored in a field.</summary>
    private static bool IsKeptAlive(IOperation operation)
    {
        var parent = operation.Parent;
        if (parent is IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation declaration } })
            return declaration.Parent is IVariableDeclarationGroupOperation { Parent: IUsingDeclarationOperation or IUsingOperation };
        return parent is ISimpleAssignmentOperation { Target: IFieldReferenceOperation or IPropertyReferenceOperation } assignment
            && assignment.Value == operation
            || parent is IFieldInitializerOperation or IPropertyInitializerOperation;
    }

    private static bool IsTorchSharp(ISymbol symbol)
        => symbol.ContainingAssembly?.Name == "TorchSharp";

    private static void Report(OperationAnalysisContext context, string what, string fix)
        => context.ReportDiagnostic(Diagnostic.Create(Rule, context.Operation.Syntax.GetLocation(), what, fix));
}
