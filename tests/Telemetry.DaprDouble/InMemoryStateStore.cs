using System.Globalization;
using System.Text;
using Grpc.Core;

namespace Telemetry.DaprDouble;

/// <summary>One stored value, under its raw (prefixed) key.</summary>
/// <param name="FirstWrite">Redis only: the hash carries the <c>first-write</c> field, set by a single-key save with
/// first-write concurrency and kept by every later write until the key is deleted.</param>
public sealed record StoredEntry(byte[] Value, string ETag, DateTimeOffset? ExpiresAt, bool FirstWrite = false)
{
    public string ValueAsString => Encoding.UTF8.GetString(Value);
}

/// <summary>Who asks, and with what rules: one write of a save, delete or transaction.</summary>
/// <param name="Concurrency">As sent: null when the request carried no options (unspecified).</param>
internal sealed record StateWrite(string Key, byte[]? Value, string? ETag, WriteConcurrency Concurrency, IReadOnlyDictionary<string, string> Metadata)
{
    public bool HasETag => !string.IsNullOrEmpty(ETag);
}

internal enum WriteConcurrency { Unspecified, FirstWrite, LastWrite }

/// <summary>A store-level failure, before daprd's API layer wraps it (grpc.go maps it to a gRPC status).</summary>
internal sealed class StoreError(string message, bool etagMismatch = false, bool etagInvalid = false)
    : Exception(etagMismatch ? $"possible etag mismatch. error from state store: {message}"
        : etagInvalid ? $"invalid etag value: {message}" : message)
{
    // The prefixes are components-contrib state/errors.go, ETagError.Error().
    /// <summary>components-contrib <c>state.ETagError</c> of kind mismatch: daprd answers a single call with Aborted.</summary>
    public bool ETagMismatch { get; } = etagMismatch;

    /// <summary><c>state.ETagError</c> of kind invalid: InvalidArgument.</summary>
    public bool ETagInvalid { get; } = etagInvalid;
}

/// <summary>
/// A state store with the semantics of daprd in front of the component it is configured as
/// (<see cref="StateStoreKind"/>): ETags, first-write, transactions, TTL and key prefixes each behave as that
/// component's source says. Keys handed in are the caller's keys; the prefix is applied here per calling app id.
/// The gRPC status a failure becomes is decided by <see cref="DaprRuntimeService"/>, as daprd's API layer does.
/// </summary>
public sealed class InMemoryStateStore
{
    private readonly Dictionary<string, StoredEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private long _valueBytesRequested;

    internal InMemoryStateStore(StateStoreOptions options, TimeProvider time)
    {
        Options = options;
        _time = time;
        if (options.KeyPrefix == KeyPrefixMode.Custom && string.IsNullOrEmpty(options.CustomPrefix))
            throw new ArgumentException($"State store '{options.Name}' uses a custom key prefix but names none.");
    }

    public StateStoreOptions Options { get; }
    public string Name => Options.Name;
    public StateStoreKind Kind => Options.Kind;

    /// <summary>The component type daprd reports in its metadata (<c>state.redis</c>, …).</summary>
    public string ComponentType => Kind switch
    {
        StateStoreKind.PostgreSql => "state.postgresql",
        StateStoreKind.Sqlite => "state.sqlite",
        _ => "state.redis",
    };

    private int _refusedWrites;

    /// <summary>Writes (single or inside a transaction) the store refused: a stale ETag or a first-write that found
    /// the key. Shows how much two writers actually collided.</summary>
    public int RefusedWrites => Volatile.Read(ref _refusedWrites);

    /// <summary>Bytes of values in save and transaction requests (upserts), whether or not the write succeeded.</summary>
    public long ValueBytesRequested => Interlocked.Read(ref _valueBytesRequested);

    internal void CountRequested(long bytes) => Interlocked.Add(ref _valueBytesRequested, bytes);

    /// <summary>Snapshot of what is stored, by raw key (expired entries left out).</summary>
    public IReadOnlyDictionary<string, StoredEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                return _entries.Where(e => !IsExpired(e.Value, now)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Raw keys whose reads fail inside the store (e.g. a Redis key of the wrong type, a corrupt row): a
    /// single get fails, a bulk get reports the error in that key's item and succeeds.</summary>
    public HashSet<string> FailingReads { get; } = new(StringComparer.Ordinal);

    /// <summary>The raw key Dapr would store <paramref name="key"/> under when <paramref name="appId"/> writes it.</summary>
    public string RawKey(string appId, string key) => Options.KeyPrefix switch
    {
        KeyPrefixMode.AppId => $"{appId}||{key}",
        KeyPrefixMode.Name => $"{Options.Name}||{key}",
        KeyPrefixMode.Custom => $"{Options.CustomPrefix}||{key}",
        _ => key,
    };

    /// <summary>Writes an entry directly (test setup), bypassing every check; returns its ETag.</summary>
    public string Seed(string rawKey, byte[] value)
    {
        lock (_gate)
        {
            var entry = new StoredEntry(value, NextETag(_entries.GetValueOrDefault(rawKey)), null);
            _entries[rawKey] = entry;
            return entry.ETag;
        }
    }

    public void Clear()
    {
        lock (_gate) _entries.Clear();
    }

    internal StoredEntry? Get(string appId, string key)
    {
        var raw = CheckedRawKey(appId, key);
        lock (_gate)
        {
            if (FailingReads.Contains(raw)) throw new StoreError($"read of {raw} failed (fault injected)");
            return Live(_entries, raw, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// daprd's bulk save or bulk delete: each item on its own (components-contrib <c>state.BulkStore</c> runs them one by
    /// one), earlier ones stay when a later one fails. Fails as a whole with the first error; it counts as an ETag
    /// mismatch only when every failed item was one (dapr <c>pkg/components/state/bulk.go</c>, <c>PerformBulkStoreOperation</c>).
    /// </summary>
    internal void Apply(string appId, IReadOnlyList<StateWrite> writes)
    {
        lock (_gate)
        {
            List<StoreError>? errors = null;
            foreach (var w in writes)
            {
                try { ApplyOne(_entries, appId, w, singleCall: true); }
                catch (StoreError error) { (errors ??= []).Add(error); }
            }
            if (errors is null) return;
            if (errors.Count == 1 || !errors.All(e => e.ETagMismatch)) throw errors[0];
            throw new StoreError(string.Join("; ", errors.Select(e => e.Message)), etagMismatch: true);
        }
    }

    /// <summary>
    /// A transaction (<c>Multi</c>). Redis queues one script per operation in MULTI/EXEC: the ETag is passed but
    /// the concurrency option is not (so first-write is never applied and never recorded), a failed operation
    /// does not stop or undo the others, and EXEC reports the first error (components-contrib
    /// <c>state/redis/redis.go</c>, <c>Multi</c>). PostgreSQL v2 and SQLite run the operations in one database
    /// transaction that rolls back on the first error (<c>state/postgresql/v2/postgresql.go</c> <c>Multi</c>,
    /// <c>state/sqlite/sqlite_dbaccess.go</c> <c>ExecuteMulti</c>), honouring every option.
    /// </summary>
    internal void Transact(string appId, IReadOnlyList<StateWrite> writes)
    {
        lock (_gate)
        {
            if (Kind == StateStoreKind.Redis)
            {
                // parseETag runs while queueing, before EXEC: an ETag that is not a number fails the whole call.
                foreach (var w in writes) RedisVersionArgument(w);
                StoreError? first = null;
                foreach (var w in writes)
                {
                    try { ApplyOne(_entries, appId, w, singleCall: false); }
                    catch (StoreError error) { first ??= error; }
                }
                if (first is not null) throw first;
                return;
            }

            var work = new Dictionary<string, StoredEntry>(_entries, StringComparer.Ordinal);
            foreach (var w in writes) ApplyOne(work, appId, w, singleCall: false);
            _entries.Clear();
            foreach (var kv in work) _entries[kv.Key] = kv.Value;
        }
    }

    private void ApplyOne(Dictionary<string, StoredEntry> target, string appId, StateWrite w, bool singleCall)
    {
        var raw = CheckedRawKey(appId, w.Key);
        var now = _time.GetUtcNow();
        var current = Live(target, raw, now);
        try
        {
            if (Kind == StateStoreKind.Redis) ApplyRedis(target, raw, current, w, singleCall, now);
            else ApplySql(target, raw, current, w, now);
        }
        catch (StoreError error) when (!error.ETagInvalid)
        {
            Interlocked.Increment(ref _refusedWrites);
            throw;
        }
    }

    /// <summary>
    /// The Lua scripts of components-contrib <c>state/redis/redis.go</c> (<c>setDefaultQuery</c>, <c>delDefaultQuery</c>):
    /// a save passes when the key does not exist (whatever ETag was sent), when the ETag equals the key's version, or
    /// when no ETag was sent ("0") and the key lacks the <c>first-write</c> field. A delete passes when the key does
    /// not exist, when no ETag was sent, or when it matches. Versions are per key, start at 1 and restart after a
    /// delete (<c>HINCRBY version 1</c>). A save without a TTL keeps the key's old TTL (no EXPIRE is sent).
    /// </summary>
    private static void ApplyRedis(Dictionary<string, StoredEntry> target, string raw, StoredEntry? current, StateWrite w, bool singleCall, DateTimeOffset now)
    {
        var version = RedisVersionArgument(w);
        if (w.Value is null)
        {
            if (current is not null && version != "0" && current.ETag != version)
                // Delete wraps every script error as an ETag mismatch (redis.go, Delete).
                throw new StoreError($"ERR user_script:5: failed to delete {raw} script: delDefaultQuery", etagMismatch: true);
            target.Remove(raw);
            return;
        }

        var passes = current is null || current.ETag == version || (!current.FirstWrite && version == "0");
        if (!passes)
        {
            // Set: an ETag mismatch only when the request carried an ETag; otherwise a plain error (redis.go, Set).
            var scriptError = $"ERR user_script:12: failed to set key {raw} script: setDefaultQuery";
            if (singleCall && w.HasETag) throw new StoreError(scriptError, etagMismatch: true);
            throw new StoreError(singleCall ? $"failed to set key {raw}: {scriptError}" : scriptError);
        }
        // Only a single-key Set passes the first-write flag as ARGV[3]; Multi passes two arguments.
        var firstWrite = (current?.FirstWrite ?? false) || (singleCall && w.Concurrency == WriteConcurrency.FirstWrite);
        var nextVersion = current is null ? 1 : long.Parse(current.ETag, CultureInfo.InvariantCulture) + 1;
        var ttl = TimeToLive(w.Metadata);
        var expires = ttl switch
        {
            null => current?.ExpiresAt, // no EXPIRE and no PERSIST: the old TTL stays
            <= 0 => null,               // PERSIST
            _ => now.AddSeconds(ttl.Value),
        };
        target[raw] = new StoredEntry(w.Value, nextVersion.ToString(CultureInfo.InvariantCulture), expires, firstWrite);
    }

    /// <summary>ARGV[1] of the scripts: the ETag, or "0" without one or under last-write (redis.go, <c>parseETag</c>;
    /// for deletes, <c>Delete</c>/<c>Multi</c> send the ETag whatever the concurrency).</summary>
    private static string RedisVersionArgument(StateWrite w)
    {
        if (w.Value is null) return w.HasETag ? w.ETag! : "0";
        if (w.Concurrency == WriteConcurrency.LastWrite || !w.HasETag) return "0";
        return int.TryParse(w.ETag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var version)
            ? version.ToString(CultureInfo.InvariantCulture)
            : throw new StoreError($"strconv.Atoi: parsing \"{w.ETag}\": invalid syntax", etagInvalid: true);
    }

    /// <summary>
    /// PostgreSQL v2 (<c>doSet</c>, <c>doDelete</c>) and SQLite (<c>doSet</c>, <c>doDelete</c>): an ETag means "update
    /// this version", so it fails on a missing key; first-write without an ETag inserts only when the key is absent
    /// (PostgreSQL: plain error "no item was updated"; SQLite: an ETag mismatch); last-write upserts. ETags are random
    /// UUIDs, and a save sets (or clears) the expiry every time.
    /// </summary>
    private void ApplySql(Dictionary<string, StoredEntry> target, string raw, StoredEntry? current, StateWrite w, DateTimeOffset now)
    {
        if (w.HasETag && (current is null || current.ETag != w.ETag))
            throw new StoreError("no rows affected", etagMismatch: true);
        if (w.Value is null)
        {
            target.Remove(raw);
            return;
        }
        if (!w.HasETag && w.Concurrency == WriteConcurrency.FirstWrite && current is not null)
        {
            if (Kind == StateStoreKind.Sqlite) throw new StoreError("sql: no rows in result set", etagMismatch: true);
            throw new StoreError("no item was updated");
        }
        var ttl = TimeToLive(w.Metadata);
        target[raw] = new StoredEntry(w.Value, NextETag(current), ttl is > 0 ? now.AddSeconds(ttl.Value) : null);
    }

    private static long? TimeToLive(IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue("ttlInSeconds", out var text) || text.Length == 0) return null;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) || seconds < -1)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"incorrect value for metadata 'ttlInSeconds': {text}"));
        return seconds;
    }

    private string CheckedRawKey(string appId, string key)
    {
        if (string.IsNullOrEmpty(key))
            throw new RpcException(new Status(StatusCode.InvalidArgument, "key cannot be empty"));
        if (key.Contains("||", StringComparison.Ordinal))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"input key/keyPrefix '{key}' can't contain '||'"));
        return RawKey(appId, key);
    }

    private static StoredEntry? Live(Dictionary<string, StoredEntry> map, string raw, DateTimeOffset now)
    {
        if (!map.TryGetValue(raw, out var e)) return null;
        if (!IsExpired(e, now)) return e;
        map.Remove(raw);
        return null;
    }

    private static bool IsExpired(StoredEntry e, DateTimeOffset now) => e.ExpiresAt is { } at && at <= now;

    /// <summary>Redis: the key's version plus one (1 for a new key); SQL stores: a fresh UUID.</summary>
    private string NextETag(StoredEntry? current) => Kind == StateStoreKind.Redis
        ? (current is null ? 1 : long.Parse(current.ETag, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture)
        : Guid.NewGuid().ToString();
}
