using System.Collections.Concurrent;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

public sealed class SegmentCacheTests
{
    /// <summary>Records every segment key the writer asks the store for.</summary>
    private sealed class SegmentReadLog(IKeyValueStore inner) : DelegatingStore(inner)
    {
        public ConcurrentQueue<string> SegmentKeysRead { get; } = new();

        public override Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        {
            foreach (var key in keys)
            {
                if (key.Contains("|s|", StringComparison.Ordinal)) SegmentKeysRead.Enqueue(key);
            }
            return base.GetManyAsync(keys, cancellationToken);
        }
    }

    [Fact]
    public async Task A_writer_folds_the_tail_it_wrote_without_reading_it_back()
    {
        var store = new SegmentReadLog(new MemoryKeyValueStore());
        var options = new WindowOptions { MaxEntries = 1_000, SegmentCapacity = 64 };
        var writer = new WindowWriter(store, options);
        var gpu = Gpu(1, 0);

        for (var instant = 0; instant < 300; instant += 2) await writer.AppendAsync([new GpuSamples(gpu, Instants(instant, instant + 2))]);

        Assert.Empty(store.SegmentKeysRead);
        Assert.InRange(writer.CachedSamples, 0, options.SegmentCapacity); // at most the tail, never the window
        var stored = await ReadAllAsync(new WindowReader(store), gpu.Uuid);
        Assert.Equal(Instants(200, 300), stored);
    }

    [Fact]
    public async Task A_writer_without_the_segments_cached_reads_them_and_ends_with_the_same_window()
    {
        var store = new SegmentReadLog(new MemoryKeyValueStore());
        var options = new WindowOptions { MaxEntries = 1_000, SegmentCapacity = 64 };
        var gpu = Gpu(1, 0);
        var first = new WindowWriter(store, options);
        var second = new WindowWriter(store, options);

        // Two writers (two collector replicas) take turns: each must fold the tail the other wrote.
        for (var instant = 0; instant < 300; instant += 2)
        {
            var writer = instant % 4 == 0 ? first : second;
            await writer.AppendAsync([new GpuSamples(gpu, Instants(instant, instant + 2))]);
        }

        Assert.NotEmpty(store.SegmentKeysRead);
        Assert.Equal(Instants(200, 300), await ReadAllAsync(new WindowReader(store), gpu.Uuid));
    }

    [Fact]
    public async Task Late_samples_and_repeats_merge_the_same_with_the_tail_cached()
    {
        var options = new WindowOptions { MaxEntries = 500, SegmentCapacity = 32 };
        var cachedStore = new MemoryKeyValueStore();
        var cached = new WindowWriter(cachedStore, options);
        var uncachedStore = new MemoryKeyValueStore();
        var gpu = Gpu(2, 3);
        var random = new Random(11);

        for (var round = 0; round < 120; round++)
        {
            var from = round * 2 - random.Next(0, 12); // some rounds repeat or fill in older instants
            var batch = new List<GpuSamples> { new(gpu, Instants(Math.Max(0, from), round * 2 + 2)) };
            await cached.AppendAsync(batch);
            // A new writer per append never has anything cached: the reference behaviour.
            await new WindowWriter(uncachedStore, options).AppendAsync(batch);
        }

        var expected = await ReadAllAsync(new WindowReader(uncachedStore), gpu.Uuid);
        Assert.Equal(500, expected.Count);
        Assert.Equal(expected, await ReadAllAsync(new WindowReader(cachedStore), gpu.Uuid));
    }

    [Fact]
    public void The_cache_holds_no_more_samples_than_its_capacity_makes_room_from_the_oldest_and_frees_what_is_removed()
    {
        var cache = new SegmentCache(capacitySamples: 100);
        var samples = Instants(0, 6).ToArray(); // 60 samples
        var other = Instants(6, 12).ToArray();

        cache.Add("a", samples);
        Assert.True(cache.TryGet("a", out var held));
        Assert.Same(samples, held);

        cache.Add("b", other); // 120 > 100: "a", added first, makes room
        Assert.False(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("b", out held));
        Assert.Same(other, held);
        Assert.Equal(60, cache.Samples);

        cache.Remove("b");
        cache.Add("c", new ArraySegment<MetricSample>(samples, 10, 20));
        cache.Add("d", new ArraySegment<MetricSample>(samples, 0, 10));
        cache.Add("too-big", Instants(0, 11).ToArray()); // 110 samples: never cached, evicts nothing

        Assert.False(cache.TryGet("b", out _));
        Assert.False(cache.TryGet("too-big", out _));
        Assert.True(cache.TryGet("c", out held));
        Assert.Equal(samples[10..30], held);
        Assert.True(cache.TryGet("d", out _));
        Assert.Equal(30, cache.Samples);
    }

    [Fact]
    public void With_a_minimum_age_a_full_cache_keeps_its_young_entries_and_serves_new_ones_uncached()
    {
        var clock = new ManualTimeProvider();
        var cache = new SegmentCache(capacitySamples: 100, minimumAge: TimeSpan.FromMinutes(1), clock);
        var (first, second) = (Instants(0, 6).ToArray(), Instants(6, 12).ToArray()); // 60 samples each

        cache.Add("a", first);
        clock.Advance(TimeSpan.FromSeconds(59));
        cache.Add("b", second); // "a" is younger than a minute: "b" is not kept, "a" stays

        Assert.True(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
        Assert.Equal(60, cache.Samples);

        clock.Advance(TimeSpan.FromSeconds(1));
        cache.Add("b", second); // "a" has reached the minimum age: it makes room
        Assert.False(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("b", out _));

        cache.Remove("b"); // a removed entry never holds the room, however young
        cache.Add("c", first);
        Assert.True(cache.TryGet("c", out _));
        Assert.Equal(60, cache.Samples);
    }
}
