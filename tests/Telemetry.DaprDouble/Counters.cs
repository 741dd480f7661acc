using System.Collections.Concurrent;

namespace Telemetry.DaprDouble;

/// <summary>Thread-safe named counters; an unknown name reads as 0 so tests can assert "never called".</summary>
public sealed class CallCounters
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public int this[string name] => _counts.TryGetValue(name, out var n) ? n : 0;

    public int Total => _counts.Values.Sum();

    public IReadOnlyDictionary<string, int> Snapshot() => new Dictionary<string, int>(_counts);

    internal void Increment(string name, int by = 1) => _counts.AddOrUpdate(name, by, (_, n) => n + by);

    public void Reset() => _counts.Clear();
}

/// <summary>What happened to delivered messages. One sidecar has its own; the backend sums all of them.</summary>
public sealed class DeliveryCounters
{
    private int _requests, _deliveries, _acks, _retries, _drops, _deadLettered;

    /// <summary>HTTP requests to the app (a bulk request counts once).</summary>
    public int Requests => Volatile.Read(ref _requests);
    /// <summary>Messages handed to the app (each entry of a bulk request counts).</summary>
    public int Deliveries => Volatile.Read(ref _deliveries);
    public int Acks => Volatile.Read(ref _acks);
    /// <summary>Redeliveries scheduled after RETRY, a non-2xx answer or a transport error.</summary>
    public int Retries => Volatile.Read(ref _retries);
    /// <summary>Messages discarded without a dead-letter topic (DROP, 404, or retries exhausted).</summary>
    public int Drops => Volatile.Read(ref _drops);
    public int DeadLettered => Volatile.Read(ref _deadLettered);

    internal void Request() => Interlocked.Increment(ref _requests);
    internal void Delivered(int n) => Interlocked.Add(ref _deliveries, n);
    internal void Ack() => Interlocked.Increment(ref _acks);
    internal void Retry() => Interlocked.Increment(ref _retries);
    internal void Drop() => Interlocked.Increment(ref _drops);
    internal void DeadLetter() => Interlocked.Increment(ref _deadLettered);

    public override string ToString() =>
        $"requests={Requests} deliveries={Deliveries} acks={Acks} retries={Retries} drops={Drops} deadLettered={DeadLettered}";
}
