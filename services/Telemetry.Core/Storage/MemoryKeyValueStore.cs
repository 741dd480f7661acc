namespace Telemetry.Core.Storage;

/// <summary>The embedded store when <c>CHECKPOINT_ENABLED=false</c>: everything in memory, gone on exit.
/// One lock makes every <see cref="ExecuteAsync"/> atomic, like a real transaction.</summary>
public sealed class MemoryKeyValueStore(TimeProvider? clock = null) : IKeyValueStore, IKeyListing
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _version;

    private sealed record Entry(byte[] Value, long Version, DateTimeOffset? ExpiresAt);

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(TryRead(key, out var entry) ? ToItem(key, entry) : null);
        }
    }

    public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, StoredItem>(keys.Count, StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var key in keys)
            {
                if (TryRead(key, out var entry)) result[key] = ToItem(key, entry);
            }
        }
        return Task.FromResult<IReadOnlyDictionary<string, StoredItem>>(result);
    }

    public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        StateOperations.EnsureSupported(operations);
        lock (_lock)
        {
            // Operations run in order, each guard seeing the earlier ones' effects; all are staged first and
            // applied only when every guard held, so a call is all-or-nothing.
            var staged = new Dictionary<string, Entry?>(StringComparer.Ordinal);
            foreach (var operation in operations)
            {
                if (!staged.TryGetValue(operation.Key, out var current)) TryRead(operation.Key, out current);
                if (!Satisfies(operation.Condition, current)) throw new ConcurrencyConflictException(operation.Key);
                staged[operation.Key] = operation switch
                {
                    UpsertOperation upsert => new Entry([.. upsert.Value], ++_version,
                        upsert.TimeToLive is { } ttl ? _clock.GetUtcNow() + ttl : null),
                    _ => null,
                };
            }
            foreach (var (key, entry) in staged)
            {
                if (entry is null) _entries.Remove(key);
                else _entries[key] = entry;
            }
        }
        return Task.CompletedTask;
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);

    public Task<IReadOnlyList<string>> ListKeysAsync(string prefix, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>(
                [.. _entries.Keys.Where(key => key.StartsWith(prefix, StringComparison.Ordinal) && TryRead(key, out _))]);
        }
    }

    private bool TryRead(string key, out Entry? entry)
    {
        if (_entries.TryGetValue(key, out entry) && entry.ExpiresAt is { } expiry && expiry <= _clock.GetUtcNow())
        {
            _entries.Remove(key);
            entry = null;
        }
        return entry is not null;
    }

    private static bool Satisfies(WriteCondition condition, Entry? current) => condition.Kind switch
    {
        WriteConditionKind.MustNotExist => current is null,
        WriteConditionKind.ETagMatches => current is not null && current.Version.ToString() == condition.ETag,
        _ => true,
    };

    // Values are copied in and out, as over a wire: a caller's array never aliases the stored one.
    private static StoredItem ToItem(string key, Entry? entry) => new(key, [.. entry!.Value], entry.Version.ToString());
}
