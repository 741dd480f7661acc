using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Embedded;

/// <summary>Settings of the embedded host itself.</summary>
public sealed class EmbeddedOptions
{
    /// <summary>REST API and health.</summary>
    [ConfigurationKeyName("PORT"), Range(1, 65535)]
    public int Port { get; set; } = DeploymentDefaults.GatewayPort;

    [ConfigurationKeyName("METRICS_PORT"), Range(1, 65535)]
    public int MetricsPort { get; set; } = DeploymentDefaults.CollectorMetricsPort;

    /// <summary>Where the SQLite file lives. Relative to the working directory, so <c>make run</c> keeps its
    /// data in the repository's <c>.data/</c> rather than needing a writable <c>/data</c>.</summary>
    [ConfigurationKeyName("DATA_DIR"), Required]
    public string DataDir { get; set; } = ".data";

    /// <summary>true: windows persist in <c>DATA_DIR/telemetry.db</c> across restarts; false: memory only.</summary>
    [ConfigurationKeyName("CHECKPOINT_ENABLED")]
    public bool CheckpointEnabled { get; set; } = true;

    /// <summary>Batches the queue between streamer and collector holds before the streamer waits.</summary>
    [ConfigurationKeyName("QUEUE_CAPACITY"), Range(1, 100_000)]
    public int QueueCapacity { get; set; } = 64;

    /// <summary>Where batches that cannot be stored or published for a reason waiting cannot fix are kept (one file
    /// each); default <c>DATA_DIR/quarantine</c>.</summary>
    [ConfigurationKeyName("QUARANTINE_DIR")]
    public string? QuarantineDir { get; set; }

    public string DatabasePath => Path.Combine(DataDir, "telemetry.db");

    public string QuarantinePath => QuarantineDir ?? Path.Combine(DataDir, "quarantine");
}
