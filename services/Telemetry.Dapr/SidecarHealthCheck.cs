using Dapr.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Telemetry.Dapr;

/// <summary>Ready only while the sidecar answers its own health endpoint.</summary>
public sealed class SidecarHealthCheck(DaprClient client) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await client.CheckHealthAsync(cancellationToken)
                ? HealthCheckResult.Healthy("Dapr sidecar answers")
                : HealthCheckResult.Unhealthy("Dapr sidecar is not healthy");
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"Dapr sidecar unreachable: {error.Message}");
        }
    }
}
