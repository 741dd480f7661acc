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

/// <summary>A CSV file that cannot be read at all (as opposed to a bad line, which is a <see cref="RowError"/>).
/// The message is one line naming the file and the reason, fit to show a user as is.</summary>
public abstract class TelemetryCsvException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The header of a file was not one this pipeline reads: fatal for that file.</summary>
public sealed class UnrecognisedCsvException(string message) : TelemetryCsvException(message);

/// <summary>The file could not be opened or read (missing, a directory, no permission, I/O failure).</summary>
public sealed class CsvSourceException(string message, Exception? inner = null) : TelemetryCsvException(message, inner);
