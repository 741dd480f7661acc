using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Streamer;

/// <summary>Streamer settings, bound from environment variables with the original deployment's names.</summary>
public sealed class StreamerOptions
{
    public const string DefaultCsvFile = "data/dcgm_metrics_20250718_134233.csv";

    [ConfigurationKeyName("CSV_FILE"), Required]
    public string CsvFile { get; set; } = DefaultCsvFile;

    /// <summary>Rows per second per worker; 0 streams as fast as the pipeline accepts.</summary>
    [ConfigurationKeyName("RATE"), Range(0, 1_000_000)]
    public double Rate { get; set; } = DeploymentDefaults.StreamerRate;

    [ConfigurationKeyName("WORKERS"), Range(1, 64)]
    public int Workers { get; set; } = DeploymentDefaults.StreamerWorkers;

    /// <summary>Replay the file forever (true) or stream it once and stop (false).</summary>
    [ConfigurationKeyName("LOOP")]
    public bool Loop { get; set; } = true;

    /// <summary>Samples per published batch at most.</summary>
    [ConfigurationKeyName("BATCH_SIZE"), Range(1, 100_000)]
    public int BatchSize { get; set; } = DeploymentDefaults.BatchSize;

    /// <summary>The longest a partly filled batch waits before it is published, in milliseconds.</summary>
    [ConfigurationKeyName("BATCH_WAIT_MS"), Range(1, 60_000)]
    public int BatchWaitMilliseconds { get; set; } = 250;

    /// <summary>Where batches that cannot be published for a reason waiting cannot fix are kept (one file each).
    /// The embedded host keeps them in <c>DATA_DIR/quarantine</c> unless this is set.</summary>
    [ConfigurationKeyName("QUARANTINE_DIR"), Required]
    public string QuarantineDir { get; set; } = "quarantine";

    /// <summary>Hostname given to GPUs of an nvidia-smi log, which does not name its host.</summary>
    [ConfigurationKeyName("NVSMI_HOSTNAME")]
    public string NvidiaSmiHostname { get; set; } = Environment.MachineName;
}
