using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Collector;

/// <summary>Collector settings, bound from environment variables with the original deployment's names.</summary>
public sealed class CollectorOptions
{
    /// <summary>Batches stored concurrently.</summary>
    [ConfigurationKeyName("WORKERS"), Range(1, 64)]
    public int Workers { get; set; } = DeploymentDefaults.CollectorWorkers;

    /// <summary>Samples kept per GPU.</summary>
    [ConfigurationKeyName("MAX_ENTRIES"), Range(1, 1_000_000)]
    public int MaxEntries { get; set; } = DeploymentDefaults.MaxEntries;
}
