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
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DriverVersion)
{
    public static GpuResponse From(GpuSummary summary) => new(
        summary.Gpu.Uuid, summary.Gpu.Uuid, summary.Gpu.Hostname, summary.Gpu.GpuIndex, summary.Gpu.Device,
        summary.Gpu.Model, summary.FirstSeen, summary.LastSeen, summary.Samples, summary.Gpu.PciBusId, summary.Gpu.DriverVersion);
}

public sealed record OffsetPagination(int Limit, int Offset, bool HasNext);

public sealed record GpuListResponse(IReadOnlyList<GpuResponse> Gpus, int Total, OffsetPagination Pagination);

public sealed record TelemetryPoint(DateTime Timestamp, string MetricName, double Value, DateTime? SourceTimestamp);

/// <summary><c>next_cursor</c> is null on the last page.</summary>
public sealed record CursorPagination(int Limit, string? NextCursor);

public sealed record TelemetryResponse(string GpuId, IReadOnlyList<TelemetryPoint> Data, CursorPagination Pagination);

public sealed record HostResponse(string Hostname, int GpuCount);

public sealed record HostListResponse(IReadOnlyList<HostResponse> Hosts, int Total);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(GpuResponse))]
[JsonSerializable(typeof(GpuListResponse))]
[JsonSerializable(typeof(TelemetryResponse))]
[JsonSerializable(typeof(HostListResponse))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
