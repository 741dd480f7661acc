using Telemetry.Core.Model;

namespace Telemetry.Collector;

/// <summary>What the collector refuses to store, whoever published it. Each reason is a metric label.</summary>
public static class SampleValidator
{
    public const int MaxIdentifierLength = 256;
    private static readonly DateTime Earliest = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

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
        foreach (var c in value)
        {
            if (char.IsControl(c) || c == '|') return false; // '|' separates parts of state keys
        }
        return true;
    }
}
