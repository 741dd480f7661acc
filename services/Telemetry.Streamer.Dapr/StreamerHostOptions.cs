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

    /// <summary>Rows per claimed range when replicas share the file. Workers publish what they hold at the end of a
    /// range, so a range of fewer than <c>BATCH_SIZE</c> x <c>WORKERS</c> rows cuts batches short; the default is that
    /// product at the default settings (at 500 rows, messages carried 474 samples on average at full speed).</summary>
    [ConfigurationKeyName("SHARE_CHUNK_ROWS"), Range(1, 10_000_000)]
    public int ShareChunkRows { get; set; } = DeploymentDefaults.BatchSize * DeploymentDefaults.StreamerWorkers;

    /// <summary>Seconds before a dead replica's rows are taken over by the others.</summary>
    [ConfigurationKeyName("SHARE_LEASE_SECONDS"), Range(2, 3600)]
    public int ShareLeaseSeconds { get; set; } = 10;
}
