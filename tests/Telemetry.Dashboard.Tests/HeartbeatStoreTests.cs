using Telemetry.Core.Storage;
using Telemetry.Hosting.Status;

namespace Telemetry.Dashboard.Tests;

/// <summary>The heartbeat documents as Dapr-mode instances share them: many writers, one store, no shared memory.</summary>
public sealed class HeartbeatStoreTests
{
    private static InstanceHeartbeat Beat(string service, string instance, DateTime at) =>
        new(service, instance, at.AddMinutes(-1), at, 12.5, 100, 1, 2, 3, true);

    [Fact]
    public async Task Ten_replicas_writing_at_once_are_all_kept_and_read_in_one_bulk_read()
    {
        var store = new CountingStore(new MemoryKeyValueStore());
        var heartbeats = new HeartbeatStore(store, new StatusOptions(), TimeProvider.System);
        var now = DateTime.UtcNow;
        var writes = Enumerable.Range(0, 10).SelectMany(i => new[]
        {
            heartbeats.PublishAsync(Beat("collector", $"collector-{i}", now), CancellationToken.None),
            heartbeats.PublishAsync(Beat("streamer", $"streamer-{i}", now), CancellationToken.None),
        });
        await Task.WhenAll(writes);

        store.Reads = 0;
        var all = await heartbeats.ReadAllAsync(CancellationToken.None);
        Assert.Equal(1, store.Reads);
        Assert.Equal(10, all.Count(h => h.Service == "collector"));
        Assert.Equal(10, all.Count(h => h.Service == "streamer"));
        Assert.Equal(20, all.Select(h => h.Instance).Distinct().Count());
    }

    [Fact]
    public async Task An_instance_silent_for_sixty_intervals_is_dropped_by_the_next_write_and_documents_expire()
    {
        var store = new CountingStore(new MemoryKeyValueStore());
        var options = new StatusOptions { HeartbeatSeconds = 5 };
        var heartbeats = new HeartbeatStore(store, options, TimeProvider.System);
        var now = DateTime.UtcNow;
        await heartbeats.PublishAsync(Beat("collector", "gone", now - options.Interval * (StatusOptions.ForgetAfterIntervals + 1)), CancellationToken.None);
        await heartbeats.PublishAsync(Beat("collector", "quiet", now - options.Interval * 10), CancellationToken.None);
        await heartbeats.PublishAsync(Beat("collector", "here", now), CancellationToken.None);

        var all = await heartbeats.ReadAllAsync(CancellationToken.None);
        Assert.Equal(["here", "quiet"], all.Select(h => h.Instance).Order());
        Assert.Equal(options.Interval * StatusOptions.ForgetAfterIntervals * 2, store.LastTimeToLive);
    }

    /// <summary>Counts bulk reads and remembers the TTL of the last write.</summary>
    private sealed class CountingStore(IKeyValueStore inner) : IKeyValueStore
    {
        public int Reads;
        public TimeSpan? LastTimeToLive;

        public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) => inner.GetAsync(key, cancellationToken);

        public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Reads);
            return inner.GetManyAsync(keys, cancellationToken);
        }

        public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
        {
            LastTimeToLive = operations.OfType<UpsertOperation>().LastOrDefault()?.TimeToLive;
            return inner.ExecuteAsync(operations, cancellationToken);
        }

        public Task<bool> PingAsync(CancellationToken cancellationToken = default) => inner.PingAsync(cancellationToken);
    }
}
