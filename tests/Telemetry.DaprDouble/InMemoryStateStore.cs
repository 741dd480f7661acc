using System.Globalization;
using System.Text;
using Grpc.Core;

namespace Telemetry.DaprDouble;

/// <summary>One stored value, under its raw (prefixed) key.</summary>
public sealed record StoredEntry(byte[] Value, string ETag, DateTimeOffset? ExpiresAt)
{
    public string ValueAsString => Encoding.UTF8.GetString(Value);
}

/// <summary>Who asks, and with what rules: one write of a save, delete or transaction.</summary>
internal sealed record StateWrite(string Key, byte[]? Value, string? ETag, bool FirstWrite, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// A state store with the semantics of daprd in front of Redis: numeric ETags that change on every write,
/// ETag mismatch as <see cref="StatusCode.Aborted"/>, first-write concurrency, TTL, key prefixes.
/// Keys handed in are the caller's keys; the prefix is applied here per calling app id.
/// </summary>
public sealed class InMemoryStateStore
{
    private readonly Dictionary<string, StoredEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private long _etagSequence;
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

    /// <summary>The raw key Dapr would store <paramref name="key"/> under when <paramref name="appId"/> writes it.</summary>
    public string RawKey(string appId, string key) => Options.KeyPrefix switch
    {
        KeyPrefixMode.AppId => $"{appId}||{key}",
        KeyPrefixMode.Name => $"{Options.Name}||{key}",
        KeyPrefixMode.Custom => $"{Options.CustomPrefix}||{key}",
        _ => key,
    };

    /// <summary>Writes an entry directly (test setup), bypassing ETag checks.</summary>
    public string Seed(string rawKey, byte[] value)
    {
        lock (_gate)
        {
            var etag = NextETag();
            _entries[rawKey] = new StoredEntry(value, etag, null);
            return etag;
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
            return Live(_entries, raw, _time.GetUtcNow());
        }
    }

    /// <summary>Applies writes one by one, like daprd's bulk save against Redis: earlier ones stay if a later one fails.</summary>
    internal void Apply(string appId, IEnumerable<StateWrite> writes)
    {
        lock (_gate)
        {
            foreach (var w in writes) ApplyOne(_entries, appId, w);
        }
    }

    /// <summary>A transaction: all-or-nothing unless the store emulates Redis's partial MULTI.</summary>
    internal void Transact(string appId, IReadOnlyList<StateWrite> writes)
    {
        lock (_gate)
        {
            // Work on a copy so a failure halfway leaves the store untouched.
            var work = new Dictionary<string, StoredEntry>(_entries, StringComparer.Ordinal);
            try
            {
                foreach (var w in writes) ApplyOne(work, appId, w);
            }
            catch (RpcException ex)
            {
                if (Options.NonAtomicTransactions) Commit(work);
                // daprd reports any failed transaction as Internal, the ETag mismatch included.
                throw new RpcException(new Status(StatusCode.Internal, $"error while executing state transaction: {ex.Status.Detail}"));
            }
            Commit(work);
        }
    }

    private void Commit(Dictionary<string, StoredEntry> work)
    {
        _entries.Clear();
        foreach (var kv in work) _entries[kv.Key] = kv.Value;
    }

    private void ApplyOne(Dictionary<string, StoredEntry> target, string appId, StateWrite w)
    {
        var raw = CheckedRawKey(appId, w.Key);
        var now = _time.GetUtcNow();
        var current = Live(target, raw, now);
        var etag = string.IsNullOrEmpty(w.ETag) ? null : w.ETag;
        var verb = w.Value is null ? "delete" : "save";

        if (etag is not null && (current is null || current.ETag != etag))
            throw new RpcException(new Status(StatusCode.Aborted,
                $"failed to {verb} state with key {w.Key}: possible etag mismatch. error from state store: ERR Error running script: etag mismatch"));
        if (etag is null && w.FirstWrite && current is not null && w.Value is not null)
            throw new RpcException(new Status(StatusCode.Aborted,
                $"failed to {verb} state with key {w.Key}: possible etag mismatch. error from state store: first-write: key already exists"));

        if (w.Value is null)
        {
            target.Remove(raw);
            return;
        }
        target[raw] = new StoredEntry(w.Value, NextETag(), Expiry(w.Metadata, now));
    }

    private static DateTimeOffset? Expiry(IReadOnlyDictionary<string, string> metadata, DateTimeOffset now)
    {
        if (!metadata.TryGetValue("ttlInSeconds", out var text)) return null;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) || seconds < -1)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"incorrect value for metadata 'ttlInSeconds': {text}"));
        // -1 means "never expire", as with Redis (and 0 too in the double).
        return seconds > 0 ? now.AddSeconds(seconds) : null;
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

    // Opaque to callers; a store-wide sequence so a deleted-then-recreated key never reuses an ETag.
    private string NextETag() => Interlocked.Increment(ref _etagSequence).ToString(CultureInfo.InvariantCulture);
}
