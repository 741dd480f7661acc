using Microsoft.Extensions.Diagnostics.HealthChecks;
using Telemetry.Core.Storage;

namespace Telemetry.Hosting;

/// <summary>Ready only while the state store answers.</summary>
public sealed class StoreHealthCheck(IKeyValueStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.PingAsync(cancellationToken)
                ? HealthCheckResult.Healthy("state store answers")
                : HealthCheckResult.Unhealthy("state store does not answer");
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"state store unreachable: {error.Message}");
        }
    }
}
