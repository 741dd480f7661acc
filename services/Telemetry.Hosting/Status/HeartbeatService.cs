using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Hosting.Status;

/// <summary>Writes this instance's heartbeat every <see cref="StatusOptions.HeartbeatSeconds"/>. A failed write
/// (store or sidecar down) is logged once per outage and retried at the next beat: status never stops a service.</summary>
internal sealed class HeartbeatService(LocalInstance local, HeartbeatStore heartbeats, StatusOptions options, TimeProvider clock, ILogger<HeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        using var timer = new PeriodicTimer(options.Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                // Written only through the store, so a written heartbeat always saw it healthy: a store this instance
                // cannot reach shows to the others as its heartbeat going stale. No separate ping (one round trip less
                // per beat).
                await heartbeats.PublishAsync(local.Snapshot(storeHealthy: true, advance: true), stoppingToken).ConfigureAwait(false);
                if (failing) logger.LogInformation("Heartbeat of {Service} {Instance} written again", local.Service, local.Instance);
                failing = false;
            }
            catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!failing) logger.LogWarning("Heartbeat of {Service} {Instance} not written: {Reason}", local.Service, local.Instance, error.Message);
                failing = true;
            }
        }
    }
}
