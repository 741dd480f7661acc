using System.Text.Json;
using Telemetry.Core.Storage;

namespace Telemetry.Hosting.Status;

/// <summary>
/// Heartbeats in the shared state store, so the gateway can show every instance of every service in Dapr mode,
/// where processes share nothing but the store.
/// <para>Layout: one document per service (<c>status|streamer</c>, <c>status|collector</c>, ...), each instance
/// one entry in it, written with a read and an ETag-guarded write. Dapr's state API cannot list keys, so a
/// document per instance would need a registry of instances beside it (two reads per status); with one
/// document per service the status is one bulk read of four fixed keys. Ten replicas writing every five
/// seconds contend rarely, and a lost race is simply re-read and retried. Each entry carries its own time:
/// an instance silent for <see cref="StatusOptions.StaleAfterIntervals"/> intervals shows as stale, and one
/// silent for <see cref="StatusOptions.ForgetAfterIntervals"/> is dropped by the next write. The document
/// itself gets a TTL (twice that), so a deployment that stops leaves nothing behind.</para>
/// <para>Dapr facts relied on (state API reference, docs.dapr.io/reference/api/state_api): the API offers get,
/// bulk get, save, delete, transactions and an alpha query API that only some stores implement, so no key listing
/// on Redis; a save with an ETag fails when the stored ETag differs (optimistic concurrency); TTL is the
/// <c>ttlInSeconds</c> metadata of a save, for the stores that support TTL (Redis does; the window store already
/// writes import chunks with it through the same adapter). Without the TTL, pruning by the next write still keeps
/// a document to the live instances.</para>
/// </summary>
public sealed class HeartbeatStore(IKeyValueStore store, StatusOptions options, TimeProvider clock)
{
    public static IReadOnlyList<string> Keys { get; } =
        [.. Enum.GetValues<PipelineRole>().Select(role => KeyOf(role.ToString().ToLowerInvariant()))];

    public static string KeyOf(string service) => $"status|{service}";

    public async Task PublishAsync(InstanceHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        var key = KeyOf(heartbeat.Service);
        var forgetBefore = clock.GetUtcNow().UtcDateTime - options.Interval * StatusOptions.ForgetAfterIntervals;
        var timeToLive = options.Interval * StatusOptions.ForgetAfterIntervals * 2;
        // The ETag read-modify-write every guarded document uses (Telemetry.Core OptimisticUpdate).
        await store.UpdateAsync(key, read =>
        {
            var document = read is null ? new StatusDocument() : Decode(read.Value);
            document.Instances[heartbeat.Instance] = heartbeat;
            foreach (var (instance, known) in document.Instances.ToList())
            {
                if (known.LastHeartbeat < forgetBefore) document.Instances.Remove(instance);
            }
            return Change<bool>.Write(JsonSerializer.SerializeToUtf8Bytes(document, StatusJsonContext.Default.StatusDocument), true);
        }, timeToLive: timeToLive, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every instance's last heartbeat: one bulk read.</summary>
    public async Task<List<InstanceHeartbeat>> ReadAllAsync(CancellationToken cancellationToken)
    {
        var items = await store.GetManyAsync([.. Keys], cancellationToken).ConfigureAwait(false);
        var heartbeats = new List<InstanceHeartbeat>();
        foreach (var item in items.Values) heartbeats.AddRange(Decode(item.Value).Instances.Values);
        return heartbeats;
    }

    private static StatusDocument Decode(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, StatusJsonContext.Default.StatusDocument) ?? new StatusDocument();
        }
        catch (JsonException)
        {
            // Status is advisory: an unreadable document is replaced by the next heartbeat, never fatal.
            return new StatusDocument();
        }
    }
}
