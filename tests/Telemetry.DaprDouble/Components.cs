namespace Telemetry.DaprDouble;

/// <summary>How a state store turns the caller's key into the stored key (Dapr's <c>keyPrefix</c> metadata).</summary>
public enum KeyPrefixMode
{
    /// <summary><c>appid||key</c>: Dapr's default, so two app ids never see each other's keys.</summary>
    AppId,
    /// <summary><c>storename||key</c>: every app using the store shares keys.</summary>
    Name,
    /// <summary>The key as given.</summary>
    None,
    /// <summary><c>customprefix||key</c>, with <see cref="StateStoreOptions.CustomPrefix"/>.</summary>
    Custom,
}

/// <summary>A state store component as a component YAML would declare it.</summary>
public sealed class StateStoreOptions
{
    public required string Name { get; init; }
    public KeyPrefixMode KeyPrefix { get; init; } = KeyPrefixMode.AppId;
    public string? CustomPrefix { get; init; }

    /// <summary>App ids allowed to load the component; empty means every app (Dapr's <c>scopes</c>).</summary>
    public IReadOnlyCollection<string> Scopes { get; init; } = [];

    /// <summary>Which component's semantics the store follows (default: Redis, as in components/statestore.yaml).</summary>
    public StateStoreKind Kind { get; init; } = StateStoreKind.Redis;
}

/// <summary>The state store components the project ships (components/ and components/alternatives/).</summary>
public enum StateStoreKind
{
    /// <summary><c>state.redis</c>: per-key numeric versions, first-write only through single-key saves, MULTI/EXEC
    /// transactions without rollback that ignore first-write.</summary>
    Redis,
    /// <summary><c>state.postgresql</c> v2: UUID ETags, atomic transactions honouring every option.</summary>
    PostgreSql,
    /// <summary><c>state.sqlite</c>: like PostgreSQL v2, but a failed first-write is an ETag mismatch.</summary>
    Sqlite,
}

/// <summary>A pub/sub component as a component YAML would declare it.</summary>
public sealed class PubSubOptions
{
    public required string Name { get; init; }
    public IReadOnlyCollection<string> Scopes { get; init; } = [];

    /// <summary>
    /// Keep every published message in the topic log (default). Off for long benchmark runs: the log then stays
    /// empty, so <see cref="PubSubBroker.Messages"/> is empty and a consumer group created later does not replay.
    /// </summary>
    public bool KeepMessages { get; init; } = true;

    /// <summary>
    /// Most messages in one bulk delivery. Redis streams is not a bulk subscriber: daprd wraps it in its default bulk
    /// subscriber (dapr <c>pkg/runtime/pubsub/default_bulksub.go</c>), whose handler blocks each of the component's
    /// <c>concurrency</c> workers (default 10; components-contrib <c>pubsub/redis/redis.go</c>, <c>Init</c>/<c>worker</c>)
    /// until the batch is answered, so one bulk request carries at most that many messages and is the only one in
    /// flight, whatever <c>maxMessagesCount</c> says.
    /// </summary>
    public int MaxMessagesPerBulk { get; init; } = 10;

    /// <summary>
    /// How long a message delivered to a consumer that went away stays pending before another consumer of the group
    /// claims it (Redis streams' <c>processingTimeout</c>, default 60 s; <c>reclaimPendingMessages</c> runs every
    /// <c>redeliverInterval</c>).
    /// </summary>
    public TimeSpan ProcessingTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Switches that make the double misbehave the way production infrastructure does.</summary>
public sealed class FaultInjection
{
    private int _failPublishes;

    /// <summary>Every message enqueued for a consumer group is enqueued this many extra times (at-least-once).</summary>
    public int DuplicateDeliveries { get; set; }

    /// <summary>While true, every state call fails with gRPC Unavailable.</summary>
    public bool StateUnavailable { get; set; }

    /// <summary>While set, state calls from sidecars of this app id fail with gRPC Unavailable (the store is
    /// unreachable from that app only, e.g. a network partition).</summary>
    public string? StateUnavailableForAppId { get; set; }

    /// <summary>Added before every state call is served.</summary>
    public TimeSpan StateDelay { get; set; }

    /// <summary>The next <paramref name="count"/> publish calls (single or bulk) fail with gRPC Unavailable.</summary>
    public void FailNextPublishes(int count) => Interlocked.Exchange(ref _failPublishes, count);

    internal bool ConsumePublishFailure()
    {
        while (true)
        {
            var left = Volatile.Read(ref _failPublishes);
            if (left <= 0) return false;
            if (Interlocked.CompareExchange(ref _failPublishes, left - 1, left) == left) return true;
        }
    }
}
