using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Collector;

/// <summary>The collector's ports in Dapr mode.</summary>
public sealed class CollectorPorts
{
    /// <summary>Where the sidecar delivers messages (the Dapr app port).</summary>
    [ConfigurationKeyName("BROKER_PORT"), Range(1, 65535)]
    public int BrokerPort { get; set; } = DeploymentDefaults.CollectorAppPort;

    [ConfigurationKeyName("HEALTH_PORT"), Range(1, 65535)]
    public int HealthPort { get; set; } = DeploymentDefaults.CollectorHealthPort;

    /// <summary>Prometheus metrics.</summary>
    [ConfigurationKeyName("METRICS_PORT"), Range(1, 65535)]
    public int MetricsPort { get; set; } = DeploymentDefaults.CollectorMetricsPort;
}
