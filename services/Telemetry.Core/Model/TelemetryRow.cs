namespace Telemetry.Core.Model;

/// <summary>One good CSV line: a GPU and the metric values it reported at <see cref="SourceTimestamp"/>.
/// A DCGM line carries one metric, an nvidia-smi line many.</summary>
public sealed record TelemetryRow(
    GpuIdentity Gpu,
    DateTime? SourceTimestamp,
    IReadOnlyList<MetricValue> Metrics,
    long LineNumber);

public readonly record struct MetricValue(string Name, double Value);

/// <summary>A CSV line that was skipped, with enough detail to find and fix it.</summary>
public sealed record RowError(string File, long LineNumber, string Reason, string? Field = null)
{
    public override string ToString() =>
        Field is null ? $"{File}:{LineNumber}: {Reason}" : $"{File}:{LineNumber}: field '{Field}': {Reason}";
}

/// <summary>The header of a file was not one this pipeline reads: fatal for that file.</summary>
public sealed class UnrecognisedCsvException(string message) : Exception(message);
