using System.Collections.Concurrent;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Tests.Storage;

/// <summary>Passes every call through; subclasses hook in before or after.</summary>
public abstract class DelegatingStore(IKeyValueStore inner) : IKeyValueStore
{
    protected IKeyValueStore Inner { get; } = inner;

    public virtual Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        Inner.GetAsync(key, cancellationToken);

    public virtual Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        Inner.GetManyAsync(keys, cancellationToken);

    public virtual Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) =>
        Inner.ExecuteAsync(operations, cancellationToken);

    public virtual Task<bool> PingAsync(CancellationToken cancellationToken = default) => Inner.PingAsync(cancellationToken);
}

/// <summary>Counts round trips by kind, so tests can assert what an operation costs.</summary>
public sealed class CountingStore(IKeyValueStore inner) : DelegatingStore(inner)
{
    private int _gets, _getManys, _executes;

    public int Gets => Volatile.Read(ref _gets);
    public int GetManys => Volatile.Read(ref _getManys);
    public int Executes => Volatile.Read(ref _executes);
    public int Total => Gets + GetManys + Executes;

    public void Reset()
    {
        Interlocked.Exchange(ref _gets, 0);
        Interlocked.Exchange(ref _getManys, 0);
        Interlocked.Exchange(ref _executes, 0);
    }

    public override Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _gets);
        return base.GetAsync(key, cancellationToken);
    }

    public override Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _getManys);
        return base.GetManyAsync(keys, cancellationToken);
    }

    public override Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _executes);
        return base.ExecuteAsync(operations, cancellationToken);
    }
}

/// <summary>Remembers every key ever written so tests can look at the whole store (the port cannot list keys).</summary>
public sealed class TrackingStore(IKeyValueStore inner) : DelegatingStore(inner)
{
    private readonly ConcurrentDictionary<string, byte> _written = new(StringComparer.Ordinal);

    public override Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        foreach (var operation in operations)
        {
            if (operation is UpsertOperation) _written.TryAdd(operation.Key, 0);
        }
        return base.ExecuteAsync(operations, cancellationToken);
    }

    /// <summary>Every key that currently holds a value.</summary>
    public async Task<IReadOnlyDictionary<string, StoredItem>> SnapshotAsync() =>
        await Inner.GetManyAsync([.. _written.Keys]);
}

/// <summary>Sleeps a little before each call, so concurrent writers interleave their reads and writes.</summary>
public sealed class JitterStore(IKeyValueStore inner, int seed, int maxDelayMs = 2) : DelegatingStore(inner)
{
    private readonly Random _random = new(seed);
    private readonly Lock _lock = new();

    private async Task Pause()
    {
        int delay;
        lock (_lock) delay = _random.Next(0, maxDelayMs + 1);
        if (delay == 0) await Task.Yield();
        else await Task.Delay(delay);
    }

    public override async Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        await Pause();
        return await base.GetAsync(key, cancellationToken);
    }

    public override async Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        await Pause();
        var result = await base.GetManyAsync(keys, cancellationToken);
        await Pause();
        return result;
    }

    public override async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        await Pause();
        await base.ExecuteAsync(operations, cancellationToken);
    }
}

/// <summary>
/// Makes a multi-operation <see cref="IKeyValueStore.ExecuteAsync"/> non-atomic, the way Dapr's Redis state
/// store behaves: operations are applied one at a time and the first failed guard throws, leaving the
/// earlier operations applied.
/// </summary>
public sealed class NonAtomicStore(IKeyValueStore inner) : DelegatingStore(inner)
{
    private int _partialFailures;

    /// <summary>Failures that happened after at least one operation of the same call was applied.</summary>
    public int PartialFailures => Volatile.Read(ref _partialFailures);

    public override async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < operations.Count; i++)
        {
            try
            {
                await Inner.ExecuteAsync([operations[i]], cancellationToken);
            }
            catch (ConcurrencyConflictException) when (i > 0)
            {
                Interlocked.Increment(ref _partialFailures);
                throw;
            }
            await Task.Yield();
        }
    }
}

/// <summary>Remembers the largest write (bytes of keys and values) it was asked to make.</summary>
public sealed class WriteSizeStore(IKeyValueStore inner) : DelegatingStore(inner)
{
    public long LargestWrite { get; private set; }
    public int Writes { get; private set; }

    public override Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        long bytes = 0;
        foreach (var operation in operations) bytes += operation.Key.Length + (operation is UpsertOperation upsert ? upsert.Value.Length : 0);
        lock (this)
        {
            LargestWrite = Math.Max(LargestWrite, bytes);
            Writes++;
        }
        return base.ExecuteAsync(operations, cancellationToken);
    }
}
