using Microsoft.AspNetCore.Http.HttpResults;
using Telemetry.Hosting.Status;

namespace Telemetry.Gateway;

/// <summary>One instance in <c>GET /api/v1/status</c>. <c>state</c>: <c>live</c>, or <c>stale</c> when its last
/// heartbeat is older than three heartbeat intervals (the process stopped or cannot reach the store).</summary>
public sealed record InstanceStatusResponse(
    string Service,
    string Instance,
    string State,
    DateTime StartedAt,
    DateTime LastHeartbeat,
    double AgeSeconds,
    double SamplesPerSecond,
    long SamplesTotal,
    long RowsRejected,
    long SamplesRejected,
    long MessagesDeadLettered,
    bool StoreHealthy);

/// <summary><c>mode</c>: <c>embedded</c> (one process) or <c>dapr</c> (separate services sharing the state store).</summary>
public sealed record StatusResponse(string Mode, DateTime GeneratedAt, int HeartbeatSeconds, IReadOnlyList<InstanceStatusResponse> Instances);

internal static class StatusApi
{
    /// <summary>Every instance's last heartbeat from the store (one bulk read), with this instance's own entry
    /// taken live instead, so the answering process is always current.</summary>
    public static async Task<Ok<StatusResponse>> GetStatus(LocalInstance local, HeartbeatStore heartbeats, StatusOptions options, TimeProvider clock, CancellationToken cancellationToken)
    {
        // The read is the health probe too: if the store answers it, it answers (one round trip, not two).
        var healthy = true;
        List<InstanceHeartbeat> all;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                all = await heartbeats.ReadAllAsync(timeout.Token);
            }
            catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                all = [];
                healthy = false;
            }
        }
        all.RemoveAll(heartbeat => heartbeat.Instance == local.Instance && heartbeat.Service == local.Service);
        all.Add(local.Snapshot(healthy, advance: false));

        var now = clock.GetUtcNow().UtcDateTime;
        var staleAfter = options.Interval * StatusOptions.StaleAfterIntervals;
        var instances = all
            .OrderBy(h => ServiceOrder(h.Service)).ThenBy(h => h.Instance, StringComparer.Ordinal)
            .Select(h =>
            {
                var age = now - h.LastHeartbeat;
                return new InstanceStatusResponse(h.Service, h.Instance, age > staleAfter ? "stale" : "live", h.StartedAt, h.LastHeartbeat,
                    Math.Round(Math.Max(0, age.TotalSeconds), 1), h.SamplesPerSecond, h.SamplesTotal, h.RowsRejected, h.SamplesRejected,
                    h.MessagesDeadLettered, h.StoreHealthy);
            })
            .ToList();
        var mode = local.Role == PipelineRole.Embedded ? "embedded" : "dapr";
        return TypedResults.Ok(new StatusResponse(mode, now, options.HeartbeatSeconds, instances));
    }

    /// <summary>In pipeline order: data flows streamer → collector → gateway.</summary>
    private static int ServiceOrder(string service) => service switch
    {
        "embedded" => 0,
        "streamer" => 1,
        "collector" => 2,
        "gateway" => 3,
        _ => 4,
    };
}
