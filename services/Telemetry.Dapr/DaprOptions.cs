using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Dapr;

/// <summary>Names of the Dapr components and how long to wait for the sidecar. The sidecar's own address
/// comes from the SDK's standard variables (DAPR_GRPC_ENDPOINT / DAPR_GRPC_PORT, DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT).</summary>
public sealed class DaprOptions
{
    [ConfigurationKeyName("DAPR_PUBSUB_NAME"), Required]
    public string PubSubName { get; set; } = DeploymentDefaults.PubSubName;

    [ConfigurationKeyName("DAPR_TOPIC"), Required]
    public string Topic { get; set; } = DeploymentDefaults.Topic;

    [ConfigurationKeyName("DAPR_DEADLETTER_TOPIC"), Required]
    public string DeadLetterTopic { get; set; } = DeploymentDefaults.DeadLetterTopic;

    [ConfigurationKeyName("DAPR_STATE_STORE"), Required]
    public string StateStoreName { get; set; } = DeploymentDefaults.StateStoreName;

    [ConfigurationKeyName("DAPR_SIDECAR_TIMEOUT_SECONDS"), Range(1, 3600)]
    public int SidecarTimeoutSeconds { get; set; } = 60;
}
