using System.Text.Json.Serialization;
using Telemetry.Core.Queries;

namespace Telemetry.Gateway;

/// <summary>A GPU with data. <c>id</c> is the uuid, the GPU's identity everywhere in the API.</summary>
public sealed record GpuResponse(
    string Id,
    string Uuid,
    string Hostname,
    int GpuIndex,
    string Device,
    string Model,
    DateTime FirstSeen,
    DateTime LastSeen,
    int Samples,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PciBusId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DriverVersion,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, LatestResponse>? Latest = null)
{
    public static GpuResponse From(GpuSummary summary) => new(
        summary.Gpu.Uuid, summary.Gpu.Uuid, summary.Gpu.Hostname, summary.Gpu.GpuIndex, summary.Gpu.Device,
        summary.Gpu.Model, summary.FirstSeen, summary.LastSeen, summary.Samples, summary.Gpu.PciBusId, summary.Gpu.DriverVersion);

    /// <summary>With <c>latest</c>: each metric's newest stored value, keyed by metric name (absent for a GPU
    /// whose manifest predates it, until its next sample).</summary>
    public static GpuResponse From(GpuOverview overview) => From(overview.Summary) with
    {
        Latest = overview.Latest.Count == 0 ? null
            : overview.Latest.ToDictionary(latest => latest.MetricName, latest => new LatestResponse(latest.Timestamp, latest.Value), StringComparer.Ordinal),
    };
}

public sealed record LatestResponse(DateTime Timestamp, double Value);

public sealed record OffsetPagination(int Limit, int Offset, bool HasNext);

public sealed record GpuListResponse(IReadOnlyList<GpuResponse> Gpus, int Total, OffsetPagination Pagination);

public sealed record TelemetryPoint(DateTime Timestamp, string MetricName, double Value, DateTime? SourceTimestamp);

/// <summary><c>next_cursor</c> is null on the last page.</summary>
public sealed record CursorPagination(int Limit, string? NextCursor);

public sealed record TelemetryResponse(string GpuId, IReadOnlyList<TelemetryPoint> Data, CursorPagination Pagination);

public sealed record HostResponse(string Hostname, int GpuCount);

public sealed record HostListResponse(IReadOnlyList<HostResponse> Hosts, int Total);

/// <summary>One bucket of a downsampled series; <c>timestamp</c> is the bucket's start.</summary>
public sealed record SeriesPointResponse(DateTime Timestamp, double Min, double Max, double Avg, double Last, int Count);

public sealed record MetricSeriesResponse(string MetricName, IReadOnlyList<SeriesPointResponse> Points);

/// <summary><c>start_time</c>/<c>end_time</c>: the range the buckets cover (null when neither was given and the
/// window is empty); <c>bucket_seconds</c>: one bucket's duration.</summary>
public sealed record SeriesResponse(string GpuId, DateTime? StartTime, DateTime? EndTime, double BucketSeconds, IReadOnlyList<MetricSeriesResponse> Series)
{
    public static SeriesResponse From(string gpuId, SeriesResult result) => new(
        gpuId, result.Start, result.End, result.BucketTicks / (double)TimeSpan.TicksPerSecond,
        [.. result.Series.Select(series => new MetricSeriesResponse(series.MetricName,
            [.. series.Points.Select(p => new SeriesPointResponse(p.Timestamp, p.Min, p.Max, p.Avg, p.Last, p.Count))]))]);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(GpuResponse))]
[JsonSerializable(typeof(GpuListResponse))]
[JsonSerializable(typeof(TelemetryResponse))]
[JsonSerializable(typeof(HostListResponse))]
[JsonSerializable(typeof(SeriesResponse))]
[JsonSerializable(typeof(StatusResponse))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
