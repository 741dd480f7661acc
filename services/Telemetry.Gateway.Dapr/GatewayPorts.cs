using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Gateway;

public sealed class GatewayPorts
{
    /// <summary>REST API, OpenAPI, UI and health.</summary>
    [ConfigurationKeyName("PORT"), Range(1, 65535)]
    public int Port { get; set; } = DeploymentDefaults.GatewayPort;

    [ConfigurationKeyName("METRICS_PORT"), Range(1, 65535)]
    public int MetricsPort { get; set; } = DeploymentDefaults.GatewayMetricsPort;
}
