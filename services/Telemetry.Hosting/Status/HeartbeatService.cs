using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Telemetry.Core.Storage;

namespace Telemetry.Hosting.Status;

/// <summary>Writes this instance's heartbeat every <see cref="StatusOptions.HeartbeatSeconds"/>. A failed write
/// (store or sidecar down) is logged once per outage and retried at the next beat: status never stops a service.</summary>
internal sealed class HeartbeatService(LocalInstance local, HeartbeatStore heartbeats, IKeyValueStore store,
    StatusOptions options, TimeProvider clock, ILogger<HeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        using var timer = new PeriodicTimer(options.Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var healthy = await StoreProbe.IsHealthyAsync(store, stoppingToken).ConfigureAwait(false);
                await heartbeats.PublishAsync(local.Snapshot(healthy, advance: true), stoppingToken).ConfigureAwait(false);
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

/// <summary>The store's health as a heartbeat reports it: answered a ping within two seconds.</summary>
public static class StoreProbe
{
    public static async Task<bool> IsHealthyAsync(IKeyValueStore store, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            return await store.PingAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
