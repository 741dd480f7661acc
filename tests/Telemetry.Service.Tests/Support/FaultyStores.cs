using Telemetry.Core.Storage;

namespace Telemetry.Service.Tests.Support;

/// <summary>A store that is down: every call throws an exception whose text must never reach a client.</summary>
public sealed class ThrowingStore : IKeyValueStore
{
    public const string Secret = "connection refused by db-internal-7:6379 (password=hunter2)";
    public int Calls;

    public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) => Fail<StoredItem?>();

    public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        Fail<IReadOnlyDictionary<string, StoredItem>>();

    public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) => Fail<bool>();

    public Task<bool> PingAsync(CancellationToken cancellationToken = default) => Fail<bool>();

    private Task<T> Fail<T>()
    {
        Interlocked.Increment(ref Calls);
        throw new InvalidOperationException(Secret);
    }
}

/// <summary>A store that works but says it does not answer a ping.</summary>
public sealed class UnreachableStore : IKeyValueStore
{
    private readonly MemoryKeyValueStore _inner = new();

    public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) => _inner.GetAsync(key, cancellationToken);

    public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        _inner.GetManyAsync(keys, cancellationToken);

    public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) =>
        _inner.ExecuteAsync(operations, cancellationToken);

    public Task<bool> PingAsync(CancellationToken cancellationToken = default) => Task.FromResult(false);
}
