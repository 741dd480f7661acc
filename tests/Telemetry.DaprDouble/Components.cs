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

    /// <summary>
    /// Redis's MULTI/EXEC does not roll back: when an operation in a transaction fails, the ones before it stay.
    /// True emulates that; false (default) applies transactions all-or-nothing.
    /// </summary>
    public bool NonAtomicTransactions { get; init; }
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
}

/// <summary>Redelivery rules: stand-in for the broker's redelivery plus a Resiliency inbound retry policy.</summary>
public sealed class DeliveryPolicy
{
    /// <summary>Total delivery attempts of one message to one consumer group, the first included.</summary>
    public int MaxAttempts { get; set; } = 3;
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(20);
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
