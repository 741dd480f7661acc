using Polly;
using Telemetry.Core.Resilience;

namespace Telemetry.Core.Storage;

/// <summary>What a read-modify-write decided: the value to write (null: leave the key as it is) and the result to
/// hand back.</summary>
public readonly record struct Change<T>(byte[]? NewValue, T Result)
{
    public static Change<T> Keep(T result) => new(null, result);

    public static Change<T> Write(byte[] value, T result) => new(value, result);
}

/// <summary>
/// The ETag read-modify-write: read a key, compute its new value, write it only if the key is still as read (its
/// ETag, or still absent); when another writer got there first, read again and recompute. The change must be a pure
/// function of what it reads: it runs once per attempt.
/// </summary>
public static class OptimisticUpdate
{
    /// <summary>Enough for the few writers that share one key here (import records, the streamers' plan).</summary>
    public const int DefaultMaxAttempts = 20;

    private static readonly ResiliencePipeline DefaultRetry = Retries.Conflicts(DefaultMaxAttempts);

    /// <summary>Runs the read-modify-write. <paramref name="retry"/> decides how conflicts are retried (default:
    /// <see cref="Retries.Conflicts"/> with <see cref="DefaultMaxAttempts"/>); when it gives up, the last
    /// <see cref="ConcurrencyConflictException"/> is thrown.</summary>
    public static async Task<T> UpdateAsync<T>(this IKeyValueStore store, string key, Func<StoredItem?, Change<T>> change,
        ResiliencePipeline? retry = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        return await (retry ?? DefaultRetry).ExecuteAsync(async token =>
        {
            var item = await store.GetAsync(key, token).ConfigureAwait(false);
            var decided = change(item);
            if (decided.NewValue is { } value)
            {
                await store.SaveAsync(key, value, WriteCondition.For(item), timeToLive, token).ConfigureAwait(false);
            }
            return decided.Result;
        }, cancellationToken).ConfigureAwait(false);
    }
}
