using Telemetry.Core.Model;

namespace Telemetry.Core.Csv;

/// <summary>The CSV layouts <see cref="TelemetryCsvReader"/> understands, told apart by their header.</summary>
public enum CsvFormat
{
    /// <summary>dcgm-exporter scrape dump: one metric of one GPU per line.</summary>
    Dcgm,
    /// <summary><c>nvidia-smi --query-gpu=... --format=csv[,nounits]</c> log: one GPU at one instant per line.</summary>
    NvidiaSmi,
}

/// <param name="NvidiaSmiHostname">Hostname given to nvidia-smi rows, whose log does not record one
/// (callers usually pass <see cref="Environment.MachineName"/>).</param>
public sealed record TelemetryCsvOptions(string NvidiaSmiHostname)
{
    public static TelemetryCsvOptions Default => new(Environment.MachineName);
}

/// <summary>One data line of a file: either a good <see cref="Row"/> or the <see cref="Error"/> that made it unusable.</summary>
public readonly record struct CsvReadResult(TelemetryRow? Row, RowError? Error);
