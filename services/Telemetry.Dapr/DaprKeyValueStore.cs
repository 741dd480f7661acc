using System.Globalization;
using System.Text;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Telemetry.Core.Storage;

namespace Telemetry.Dapr;

/// <summary>
/// The core's key-value port over a Dapr state store. Values are sent as raw bytes. Guards map to Dapr's: an ETag
/// for "unchanged since read", first-write concurrency without an ETag for "must not exist" (single operations
/// only: Redis transactions drop the concurrency option). Only what daprd reports as an ETag mismatch — gRPC
/// Aborted, which it gives a single save or delete (dapr pkg/api/grpc/grpc.go, getStateErrorCode) — becomes a
/// <see cref="ConcurrencyConflictException"/>. Any other failure, a failed transaction included (always Internal,
/// "error while executing state transaction: …" with the store's own text, which for Redis never says "etag"),
/// is passed on as it is: its outcome is unknown and the caller reads back, as the port says.
/// </summary>
public sealed class DaprKeyValueStore(DaprClient client, IOptions<DaprOptions> options) : IKeyValueStore
{
    private static readonly StateOptions FirstWrite = new() { Concurrency = ConcurrencyMode.FirstWrite };
    private static readonly StateOptions LastWrite = new() { Concurrency = ConcurrencyMode.LastWrite };
    private readonly string _store = options.Value.StateStoreName;

    public async Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var (value, etag) = await client.GetByteStateAndETagAsync(_store, key, cancellationToken: cancellationToken).ConfigureAwait(false);
        return value.IsEmpty || string.IsNullOrEmpty(etag) ? null : new StoredItem(key, value.ToArray(), etag);
    }

    public async Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, StoredItem>(keys.Count, StringComparer.Ordinal);
        if (keys.Count == 0) return result;
        var items = await client.GetBulkStateAsync(_store, keys as IReadOnlyList<string> ?? [.. keys], parallelism: null,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            // Bulk get reports missing keys as items without data.
            if (string.IsNullOrEmpty(item.Value) || string.IsNullOrEmpty(item.ETag)) continue;
            result[item.Key] = new StoredItem(item.Key, Encoding.UTF8.GetBytes(item.Value), item.ETag);
        }
        return result;
    }

    public async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        if (operations.Count == 0) return;
        StateOperations.EnsureSupported(operations);
        try
        {
            if (operations.Count == 1)
            {
                await ExecuteOneAsync(operations[0], cancellationToken).ConfigureAwait(false);
                return;
            }
            var requests = new List<StateTransactionRequest>(operations.Count);
            foreach (var operation in operations)
            {
                var (etag, stateOptions) = Guard(operation.Condition);
                var metadata = operation is UpsertOperation upsertWithTtl ? TtlMetadata(upsertWithTtl.TimeToLive) : null;
                requests.Add(operation is UpsertOperation upsert
                    ? new StateTransactionRequest(upsert.Key, upsert.Value, StateOperationType.Upsert, etag, metadata, stateOptions)
                    : new StateTransactionRequest(operation.Key, null, StateOperationType.Delete, etag, null, stateOptions));
            }
            await client.ExecuteStateTransactionAsync(_store, requests, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (IsConflict(error))
        {
            throw new ConcurrencyConflictException(operations.Count == 1 ? operations[0].Key : $"{operations.Count} keys in one transaction");
        }
        catch (Exception error) when (operations is [{ Condition.Kind: WriteConditionKind.MustNotExist } creation]
            && error is not OperationCanceledException)
        {
            // A refused first-write is not an ETag error to daprd: Redis reports "failed to set key" and PostgreSQL
            // "no item was updated", both Internal (redis.go Set, postgresql/v2 doSet). The key existing now is what
            // makes it a conflict; if it cannot be read either, the store is failing and the first error says so.
            StoredItem? existing;
            try { existing = await GetAsync(creation.Key, cancellationToken).ConfigureAwait(false); }
            catch (Exception) when (!cancellationToken.IsCancellationRequested) { throw error; }
            if (existing is not null) throw new ConcurrencyConflictException(creation.Key);
            throw;
        }
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        // A read of a key that never exists proves sidecar, component and backing store all answer.
        await client.GetByteStateAsync(_store, "health|ping", cancellationToken: cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task ExecuteOneAsync(StateOperation operation, CancellationToken cancellationToken)
    {
        var (etag, stateOptions) = Guard(operation.Condition);
        if (operation is UpsertOperation upsert)
        {
            var metadata = TtlMetadata(upsert.TimeToLive);
            if (etag is null)
            {
                await client.SaveByteStateAsync(_store, upsert.Key, upsert.Value, stateOptions, metadata, cancellationToken).ConfigureAwait(false);
            }
            else if (!await client.TrySaveByteStateAsync(_store, upsert.Key, upsert.Value, etag, stateOptions, metadata, cancellationToken).ConfigureAwait(false))
            {
                throw new ConcurrencyConflictException(upsert.Key);
            }
        }
        else if (etag is null)
        {
            await client.DeleteStateAsync(_store, operation.Key, stateOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (!await client.TryDeleteStateAsync(_store, operation.Key, etag, stateOptions, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            throw new ConcurrencyConflictException(operation.Key);
        }
    }

    private static (string? ETag, StateOptions Options) Guard(WriteCondition condition) => condition.Kind switch
    {
        WriteConditionKind.ETagMatches => (condition.ETag, FirstWrite),
        WriteConditionKind.MustNotExist => (null, FirstWrite),
        _ => (null, LastWrite),
    };

    /// <summary>A write without a TTL sends -1: Redis keeps a key's old TTL when it is rewritten without one (its Set
    /// sends no EXPIRE), and -1 makes it PERSIST (components-contrib state/redis/redis.go, Set/Multi); the SQL stores
    /// read -1 as "no expiry", as they read an absent TTL.</summary>
    private static readonly Dictionary<string, string> NoExpiry = new() { ["ttlInSeconds"] = "-1" };

    private static Dictionary<string, string> TtlMetadata(TimeSpan? ttl) => ttl is { } value
        ? new() { ["ttlInSeconds"] = Math.Max(1, (int)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture) }
        : NoExpiry;

    /// <summary>Aborted is daprd's answer to an ETag mismatch on a single save or delete, and only to that.</summary>
    private static bool IsConflict(Exception error) => error switch
    {
        ConcurrencyConflictException => false,
        RpcException { StatusCode: StatusCode.Aborted } => true,
        DaprException { InnerException: { } inner } => IsConflict(inner),
        _ => false,
    };
}
