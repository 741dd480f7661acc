namespace Telemetry.Core.Storage;

/// <summary>
/// The small key-value port the window store is written against. Its semantics are what every state store the
/// project supports can keep — Dapr's state API over Redis being the weakest — so the Dapr adapter stays thin:
/// values are opaque bytes, every read returns an ETag, writes can be guarded by one, and a guard the store
/// reports as failed raises <see cref="ConcurrencyConflictException"/>. What callers may rely on:
/// <list type="bullet">
/// <item>A single-operation call is applied or not; a stale ETag, or a "must not exist" write finding the key, is a
/// <see cref="ConcurrencyConflictException"/>. Any other exception leaves the outcome unknown.</item>
/// <item>A multi-operation call may be applied in part when it fails (Redis's MULTI/EXEC does not roll back), and
/// its failure may not say whether a guard failed (daprd reports every failed transaction as Internal): read back
/// to learn what happened.</item>
/// <item><see cref="WriteCondition.MustNotExist"/> only in single-operation calls: Redis transactions ignore
/// first-write. Enforced by every implementation (<see cref="StateOperations.EnsureSupported"/>).</item>
/// <item>On Redis a first-write guard holds only against a value that was itself written with a guard, and a key
/// written with a guard can no longer be overwritten unconditionally: write such keys with guards only.</item>
/// <item>An ETag guard on a key that was deleted meanwhile may pass (Redis creates the key): never delete a key
/// that is updated by ETag, or re-check after.</item>
/// </list>
/// </summary>
public interface IKeyValueStore
{
    /// <summary>Returns the item or null when the key does not exist (or has expired).</summary>
    Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>One round trip for many keys; missing keys are absent from the result.</summary>
    Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Applies every operation in one round trip. Stores that support it apply them atomically;
    /// callers must not rely on it (Dapr's Redis store does not roll back a partly failed transaction),
    /// which is why the window store commits through one guarded write per GPU and writes new data under
    /// fresh keys first.</summary>
    Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default);

    /// <summary>True when the store answers.</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken = default);
}

public sealed record StoredItem(string Key, byte[] Value, string ETag);

/// <summary>Stores that can enumerate their keys (the embedded ones; Dapr's state API cannot). Used only for
/// housekeeping at start-up, never on the data path.</summary>
public interface IKeyListing
{
    Task<IReadOnlyList<string>> ListKeysAsync(string prefix, CancellationToken cancellationToken = default);
}

/// <summary>What a write expects of the key before it: anything, absence, or a given version.</summary>
public readonly record struct WriteCondition(WriteConditionKind Kind, string? ETag)
{
    public static WriteCondition Any => new(WriteConditionKind.Any, null);
    public static WriteCondition MustNotExist => new(WriteConditionKind.MustNotExist, null);
    public static WriteCondition Matches(string etag) => new(WriteConditionKind.ETagMatches, etag);

    /// <summary>Guard for a read-modify-write: the item's version if it existed, absence if not.</summary>
    public static WriteCondition For(StoredItem? readBefore) =>
        readBefore is null ? MustNotExist : Matches(readBefore.ETag);
}

public enum WriteConditionKind { Any, MustNotExist, ETagMatches }

public abstract record StateOperation(string Key, WriteCondition Condition);

public sealed record UpsertOperation(string Key, byte[] Value, WriteCondition Condition, TimeSpan? TimeToLive = null)
    : StateOperation(Key, Condition);

public sealed record DeleteOperation(string Key, WriteCondition Condition) : StateOperation(Key, Condition);

/// <summary>A guarded write found the key in another version than expected.</summary>
public sealed class ConcurrencyConflictException(string key)
    : Exception($"State key '{key}' was changed by another writer.")
{
    public string Key { get; } = key;
}

public static class StateOperations
{
    /// <summary>Refuses what not every store can do: a "must not exist" guard inside a multi-operation call.</summary>
    public static void EnsureSupported(IReadOnlyList<StateOperation> operations)
    {
        if (operations.Count < 2) return;
        foreach (var operation in operations)
        {
            if (operation.Condition.Kind == WriteConditionKind.MustNotExist)
                throw new ArgumentException(
                    $"'{operation.Key}': a must-not-exist guard is only honoured in a single-operation call (Redis transactions ignore first-write).",
                    nameof(operations));
        }
    }
}

public static class KeyValueStoreExtensions
{
    public static Task SaveAsync(this IKeyValueStore store, string key, byte[] value, WriteCondition condition,
        TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) =>
        store.ExecuteAsync([new UpsertOperation(key, value, condition, timeToLive)], cancellationToken);

    public static Task DeleteAsync(this IKeyValueStore store, string key, WriteCondition condition,
        CancellationToken cancellationToken = default) =>
        store.ExecuteAsync([new DeleteOperation(key, condition)], cancellationToken);
}
