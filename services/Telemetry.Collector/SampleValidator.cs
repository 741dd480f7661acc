using System.Buffers;
using Telemetry.Core.Model;

namespace Telemetry.Collector;

/// <summary>What the collector refuses to store, whoever published it. Each reason is a metric label.</summary>
public static class SampleValidator
{
    public const int MaxIdentifierLength = 256;
    private static readonly DateTime Earliest = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>What an identifier may not contain: the characters <see cref="char.IsControl(char)"/> accepts
    /// (U+0000–U+001F and U+007F–U+009F) and '|', which separates parts of state keys. A vectorised search: this
    /// runs on every sample's metric name and every group's uuid, and a loop of char.IsControl over them was ~9% of
    /// the embedded pipeline's CPU (perf, docs/performance.md).</summary>
    private static readonly SearchValues<char> Forbidden = SearchValues.Create(
        [.. Enumerable.Range(0, 0xA0).Select(c => (char)c).Where(char.IsControl), '|']);

    /// <summary>Null when the GPU identity can be stored, else the reason.</summary>
    public static string? CheckGpu(GpuIdentity gpu)
    {
        if (!IsIdentifier(gpu.Uuid)) return "invalid_uuid";
        if (gpu.Hostname is null || gpu.Hostname.Length > MaxIdentifierLength) return "invalid_hostname";
        if (gpu.GpuIndex < 0) return "invalid_gpu_index";
        return null;
    }

    /// <summary>Null when the sample can be stored, else the reason.</summary>
    public static string? CheckSample(MetricSample sample, DateTime now)
    {
        if (!IsIdentifier(sample.MetricName)) return "invalid_metric_name";
        if (!double.IsFinite(sample.Value)) return "non_finite_value";
        if (sample.Timestamp < Earliest || sample.Timestamp > now.AddDays(1)) return "timestamp_out_of_range";
        return null;
    }

    private static bool IsIdentifier(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxIdentifierLength) return false;
        return !value.AsSpan().ContainsAny(Forbidden);
    }
}
