using System.Text.Json.Serialization;

namespace Telemetry.Hosting.Status;

/// <summary>Which part of the pipeline a process is; decides which counter is its "samples per second".</summary>
public enum PipelineRole
{
    /// <summary>The all-in-one host: counts samples stored.</summary>
    Embedded,
    /// <summary>Counts samples published.</summary>
    Streamer,
    /// <summary>Counts samples stored.</summary>
    Collector,
    /// <summary>Counts samples published (CSV imports, in Dapr mode).</summary>
    Gateway,
}

/// <summary>What one service instance last said about itself. Totals are since the process started.</summary>
public sealed record InstanceHeartbeat(
    string Service,
    string Instance,
    DateTime StartedAt,
    DateTime LastHeartbeat,
    double SamplesPerSecond,
    long SamplesTotal,
    long RowsRejected,
    long SamplesRejected,
    long MessagesDeadLettered,
    bool StoreHealthy);

/// <summary>The heartbeats of one service's instances, stored under <c>status|{service}</c>.</summary>
internal sealed class StatusDocument
{
    public Dictionary<string, InstanceHeartbeat> Instances { get; set; } = new(StringComparer.Ordinal);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StatusDocument))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
