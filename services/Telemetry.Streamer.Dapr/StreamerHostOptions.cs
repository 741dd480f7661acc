using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Streamer;

/// <summary>The streamer's ports and how replicas share the file in Dapr mode.</summary>
public sealed class StreamerHostOptions
{
    [ConfigurationKeyName("HEALTH_PORT"), Range(1, 65535)]
    public int HealthPort { get; set; } = DeploymentDefaults.StreamerHealthPort;

    [ConfigurationKeyName("METRICS_PORT"), Range(1, 65535)]
    public int MetricsPort { get; set; } = DeploymentDefaults.StreamerMetricsPort;

    /// <summary>Rows per claimed range when replicas share the file (see <see cref="RowsPerClaim"/>).</summary>
    [ConfigurationKeyName("SHARE_CHUNK_ROWS"), Range(1, 10_000_000)]
    public int ShareChunkRows { get; set; } = 500;

    /// <summary>Seconds before a dead replica's rows are taken over by the others.</summary>
    [ConfigurationKeyName("SHARE_LEASE_SECONDS"), Range(2, 3600)]
    public int ShareLeaseSeconds { get; set; } = 10;

    /// <summary>
    /// The rows a replica claims at once. Paced, <c>SHARE_CHUNK_ROWS</c>: small ranges let many replicas stream one
    /// file side by side, and batches close on <c>BATCH_WAIT_MS</c> long before a range ends. At full speed
    /// (<c>RATE=0</c>) workers publish what they hold when a range ends, so a range is at least <c>BATCH_SIZE</c> x
    /// <c>WORKERS</c> rows: with 500-row ranges a message carried 474 samples on average, and the collector, whose cost
    /// is per GPU per append, spent 3.6 us per sample instead of 1.6 (figure 4, docs/performance.md, ninth pass).
    /// </summary>
    public int RowsPerClaim(StreamerOptions streamer) =>
        streamer.Rate > 0 ? ShareChunkRows : Math.Max(ShareChunkRows, streamer.BatchSize * streamer.Workers);
}
