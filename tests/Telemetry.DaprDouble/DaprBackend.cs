using System.Collections.Concurrent;
using Grpc.Core;

namespace Telemetry.DaprDouble;

/// <summary>
/// The infrastructure behind all sidecars of a test: state stores and pub/sub components declared in code,
/// shared by every <see cref="DaprSidecar"/> created from it (each with its own app id).
/// </summary>
public sealed class DaprBackend : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, InMemoryStateStore> _stores = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PubSubBroker> _brokers = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<DaprSidecar> _sidecars = [];
    private int _outstanding;

    public DaprBackend(TimeProvider? time = null) => Time = time ?? TimeProvider.System;

    /// <summary>Clock for TTLs and CloudEvent times; pass a fake one to test expiry without sleeping.</summary>
    public TimeProvider Time { get; }
    /// <summary>The Resiliency spec every sidecar applies (each with its own circuit breakers), e.g.
    /// <c>ResiliencySpec.Load("components/resiliency.yaml")</c>; null: no policies, as daprd without one.</summary>
    public ResiliencySpec? Resiliency { get; set; }
    public FaultInjection Faults { get; } = new();

    /// <summary>Sum over all sidecars.</summary>
    public DeliveryCounters Counters { get; } = new();

    /// <summary>Messages enqueued for some consumer group and not yet acked, dropped or dead-lettered.</summary>
    public int OutstandingDeliveries => Volatile.Read(ref _outstanding);

    public IReadOnlyCollection<DaprSidecar> Sidecars => [.. _sidecars];

    public InMemoryStateStore AddStateStore(StateStoreOptions options)
    {
        var store = new InMemoryStateStore(options, Time);
        if (!_stores.TryAdd(options.Name, store)) throw new InvalidOperationException($"State store '{options.Name}' already exists.");
        return store;
    }

    public InMemoryStateStore AddStateStore(string name, KeyPrefixMode keyPrefix = KeyPrefixMode.AppId, params string[] scopes) =>
        AddStateStore(new StateStoreOptions { Name = name, KeyPrefix = keyPrefix, Scopes = scopes });

    public PubSubBroker AddPubSub(string name, params string[] scopes) =>
        AddPubSub(new PubSubOptions { Name = name, Scopes = scopes });

    public PubSubBroker AddPubSub(PubSubOptions options)
    {
        var broker = new PubSubBroker(options, this);
        if (!_brokers.TryAdd(options.Name, broker)) throw new InvalidOperationException($"Pub/sub '{options.Name}' already exists.");
        return broker;
    }

    public InMemoryStateStore StateStore(string name) => _stores[name];
    public PubSubBroker PubSub(string name) => _brokers[name];

    /// <summary>Creates and starts a sidecar for <paramref name="appId"/>.</summary>
    public async Task<DaprSidecar> StartSidecarAsync(string appId, Action<SidecarOptions>? configure = null)
    {
        var options = new SidecarOptions();
        configure?.Invoke(options);
        var sidecar = new DaprSidecar(this, appId, options);
        _sidecars.Add(sidecar);
        await sidecar.StartAsync().ConfigureAwait(false);
        return sidecar;
    }

    /// <summary>Waits until every enqueued delivery was acked, dropped or dead-lettered (and dead letters too, if subscribed).</summary>
    public async Task WaitForIdleAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (OutstandingDeliveries > 0)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Broker not idle after {timeout}: {OutstandingDeliveries} deliveries outstanding ({Counters}).");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sidecar in _sidecars) await sidecar.DisposeAsync().ConfigureAwait(false);
    }

    internal void Outstanding(int delta) => Interlocked.Add(ref _outstanding, delta);

    // A component out of an app's scopes is not loaded by that app's sidecar: to it, the component does not exist.
    internal InMemoryStateStore ResolveStore(string name, string appId) =>
        _stores.TryGetValue(name ?? "", out var s) && InScope(s.Options.Scopes, appId)
            ? s
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"state store {name} is not found"));

    internal PubSubBroker ResolvePubSub(string name, string appId)
    {
        if (string.IsNullOrEmpty(name)) throw new RpcException(new Status(StatusCode.InvalidArgument, "pubsub name is empty"));
        return _brokers.TryGetValue(name, out var b) && InScope(b.Options.Scopes, appId)
            ? b
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"pubsub {name} not found"));
    }

    internal PubSubBroker? FindPubSub(string name, string appId) =>
        _brokers.TryGetValue(name, out var b) && InScope(b.Options.Scopes, appId) ? b : null;

    internal IEnumerable<InMemoryStateStore> StoresFor(string appId) => _stores.Values.Where(s => InScope(s.Options.Scopes, appId));
    internal IEnumerable<PubSubBroker> PubSubsFor(string appId) => _brokers.Values.Where(b => InScope(b.Options.Scopes, appId));

    private static bool InScope(IReadOnlyCollection<string> scopes, string appId) => scopes.Count == 0 || scopes.Contains(appId);
}
