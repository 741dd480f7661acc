using System.Buffers.Text;
using System.Text;
using Telemetry.Core.Model;

namespace Telemetry.Core.Queries;

public sealed record GpuSummary(GpuIdentity Gpu, DateTime FirstSeen, DateTime LastSeen, int Samples);

/// <summary>A metric's newest stored value.</summary>
public sealed record LatestSample(string MetricName, DateTime Timestamp, double Value);

/// <summary>A GPU with the newest value of each of its metrics, as the fleet page shows it.</summary>
public sealed record GpuOverview(GpuSummary Summary, IReadOnlyList<LatestSample> Latest);

public sealed record GpuOverviewPage(IReadOnlyList<GpuOverview> Gpus, int Total, bool HasNext);

public sealed record HostSummary(string Hostname, int Gpus);

public sealed record GpuListQuery(string? Hostname = null, int Limit = 100, int Offset = 0);

public sealed record GpuPage(IReadOnlyList<GpuSummary> Gpus, int Total, bool HasNext);

/// <summary>A time-ordered read of one GPU's window. <see cref="Start"/> and <see cref="End"/> are inclusive.</summary>
public sealed record TelemetryQuery(
    DateTime? Start = null,
    DateTime? End = null,
    IReadOnlySet<string>? Metrics = null,
    int Limit = 1000,
    TelemetryCursor? After = null);

/// <summary>A page of samples. Its samples may lie in pooled arrays (<see cref="Windows.SampleRuns"/>): dispose the
/// page when done with them, or leave them to the garbage collector.</summary>
public sealed record TelemetryPage(IReadOnlyList<MetricSample> Samples, TelemetryCursor? Next) : IDisposable
{
    public void Dispose() => (Samples as IDisposable)?.Dispose();
}

/// <summary>A keyset position: the (time, metric) of the last sample a page returned. Because it names a
/// sample rather than an offset, pages stay stable while newer samples arrive.</summary>
public readonly record struct TelemetryCursor(long Ticks, string Metric)
{
    public static TelemetryCursor After(MetricSample sample) => new(sample.Timestamp.Ticks, sample.MetricName);

    public string Encode() => Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{Ticks}:{Metric}"));

    public static bool TryDecode(string? text, out TelemetryCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > 512) return false;
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }
        var decoded = Encoding.UTF8.GetString(bytes);
        var colon = decoded.IndexOf(':');
        if (colon <= 0 || !long.TryParse(decoded.AsSpan(0, colon), out var ticks)
            || ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks) return false;
        cursor = new TelemetryCursor(ticks, decoded[(colon + 1)..]);
        return true;
    }

    /// <summary>True when <paramref name="sample"/> comes strictly after this position.</summary>
    public bool Precedes(MetricSample sample)
    {
        var byTime = sample.Timestamp.Ticks.CompareTo(Ticks);
        return byTime > 0 || (byTime == 0 && string.CompareOrdinal(sample.MetricName, Metric) > 0);
    }
}
