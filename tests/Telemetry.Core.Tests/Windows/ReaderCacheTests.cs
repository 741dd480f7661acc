using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

/// <summary>The reader keeps decoded segments (<see cref="WindowReader.DefaultCachedSamples"/>): what it answers must be
/// what an uncached reader answers, whatever writers do meanwhile and whatever filters earlier queries used.</summary>
public sealed class ReaderCacheTests
{
    private static readonly WindowOptions Options = new() { MaxEntries = 600, SegmentCapacity = 32 };

    [Fact]
    public async Task A_window_read_again_costs_only_its_manifest_and_reads_the_same()
    {
        var counting = new CountingStore(new MemoryKeyValueStore());
        var gpu = Gpu(0, 0);
        var writer = new WindowWriter(counting, Options);
        for (var from = 0; from < 60; from += 5) await writer.AppendAsync([new GpuSamples(gpu, Instants(from, from + 5))]);
        var cached = new WindowReader(counting);
        var uncached = new WindowReader(counting, cachedSamples: 0);

        var first = await CostAsync(counting, () => cached.QueryAsync(gpu.Uuid, Everything));
        var again = await CostAsync(counting, () => cached.QueryAsync(gpu.Uuid, Everything));
        var series = await CostAsync(counting, () => cached.ReadSeriesAsync(gpu.Uuid, new SeriesQuery(Points: 7)));
        var without = await CostAsync(counting, () => uncached.QueryAsync(gpu.Uuid, Everything));
        var withoutAgain = await CostAsync(counting, () => uncached.QueryAsync(gpu.Uuid, Everything));

        Assert.Equal(2, first.Calls);   // the manifest, then one bulk read of the segments
        Assert.Equal(1, again.Calls);   // the manifest only
        Assert.Equal(1, series.Calls);
        Assert.Equal(2, without.Calls);
        Assert.Equal(2, withoutAgain.Calls);
        Assert.Equal(600, first.Result!.Samples.Count);
        Assert.Equal(first.Result.Samples, again.Result!.Samples);
        Assert.Equal(without.Result!.Samples, again.Result.Samples);
        Assert.Equal(600, series.Result!.Series.Sum(metric => metric.Points.Sum(point => point.Count)));
    }

    [Fact]
    public async Task A_manifest_that_changed_is_decoded_again_for_queries_series_and_overviews()
    {
        // The reader keeps each GPU's decoded manifest and reuses it while the stored bytes are the same: after an
        // append every path must see the new manifest, not the one it decoded before.
        var store = new MemoryKeyValueStore();
        var gpu = Gpu(0, 0);
        var writer = new WindowWriter(store, Options);
        await writer.AppendAsync([new GpuSamples(gpu, Instants(0, 5))]);
        var reader = new WindowReader(store);
        Assert.Equal(50, (await reader.QueryAsync(gpu.Uuid, Everything))!.Samples.Count);
        Assert.Equal(50, (await reader.ReadSeriesAsync(gpu.Uuid, new SeriesQuery()))!.Series.Sum(m => m.Points.Sum(p => p.Count)));
        Assert.Equal(50, (await reader.GetGpuAsync(gpu.Uuid))!.Samples);

        await writer.AppendAsync([new GpuSamples(gpu, Instants(5, 8))]);

        Assert.Equal(80, (await reader.QueryAsync(gpu.Uuid, Everything))!.Samples.Count);
        Assert.Equal(80, (await reader.ReadSeriesAsync(gpu.Uuid, new SeriesQuery()))!.Series.Sum(m => m.Points.Sum(p => p.Count)));
        var overview = (await reader.GetGpuOverviewAsync(gpu.Uuid))!;
        Assert.Equal(80, overview.Summary.Samples);
        Assert.Equal(Instants(5, 8).Max(sample => sample.Timestamp), overview.Summary.LastSeen);
    }

    [Fact]
    public async Task Filtered_queries_leave_the_cached_samples_as_they_were()
    {
        var store = new MemoryKeyValueStore();
        var gpu = Gpu(0, 0);
        var writer = new WindowWriter(store, Options);
        for (var from = 0; from < 40; from += 4) await writer.AppendAsync([new GpuSamples(gpu, Instants(from, from + 4))]);
        var cached = new WindowReader(store);
        var expected = (await new WindowReader(store, cachedSamples: 0).QueryAsync(gpu.Uuid, Everything))!.Samples.ToList();
        Assert.Equal(expected, (await cached.QueryAsync(gpu.Uuid, Everything))!.Samples);

        // A metric filter, a time range, a cursor and a page limit, each over the cached segments.
        var rare = await cached.QueryAsync(gpu.Uuid, new TelemetryQuery(Metrics: new HashSet<string> { Metrics[3] }, Limit: 1000));
        Assert.Equal(expected.Where(s => s.MetricName == Metrics[3]), rare!.Samples);
        var range = await cached.QueryAsync(gpu.Uuid, new TelemetryQuery(Sample(10, 0).Timestamp, Sample(20, 9).Timestamp, Limit: 35));
        Assert.Equal(expected.Where(s => s.Timestamp >= Sample(10, 0).Timestamp).Take(35), range!.Samples);
        var next = await cached.QueryAsync(gpu.Uuid, new TelemetryQuery(Sample(10, 0).Timestamp, Sample(20, 9).Timestamp, Limit: 1000, After: range.Next));
        Assert.Equal(expected.Where(s => s.Timestamp >= Sample(10, 0).Timestamp && s.Timestamp <= Sample(20, 9).Timestamp).Skip(35), next!.Samples);
        var series = await cached.ReadSeriesAsync(gpu.Uuid, new SeriesQuery(Metrics: new HashSet<string> { Metrics[5] }, Points: 3));
        Assert.Equal(40, series!.Series.Single().Points.Sum(point => point.Count));

        Assert.Equal(expected, (await cached.QueryAsync(gpu.Uuid, Everything))!.Samples);
    }

    [Theory]
    [InlineData(24L << 30, 64_424_509)] // this machine: a tenth of 24 GiB at 40 bytes a sample
    [InlineData(512L << 20, 1_342_177)] // a 512 MiB container limit
    [InlineData(1L << 40, WindowReader.MaxCachedSamples)] // a terabyte: capped at 4 GB of samples
    [InlineData(0, 0)]
    public void The_automatic_cache_takes_a_tenth_of_the_memory_available(long availableBytes, int expected) =>
        Assert.Equal(expected, WindowReader.CacheSamplesFor(availableBytes));

    [Theory]
    [InlineData(WindowReader.DefaultCachedSamples)]
    [InlineData(100)] // smaller than a window: entries keep making room for each other
    public async Task A_cached_reader_answers_as_an_uncached_one_while_a_writer_replaces_segments(int cachedSamples)
    {
        var store = new MemoryKeyValueStore();
        var gpus = new[] { Gpu(0, 0), Gpu(0, 1) };
        var writer = new WindowWriter(store, Options);
        var cached = new WindowReader(store, cachedSamples);
        var uncached = new WindowReader(store, cachedSamples: 0);
        for (var from = 0; from < 150; from += 3)
        {
            // Late samples too, so segments are rewritten in the middle of the window, not only at its end.
            await writer.AppendAsync([.. gpus.Select((gpu, g) => new GpuSamples(gpu, [.. Instants(from, from + 3, gpu: g), .. Instants(from / 2, from / 2 + 1, gpu: g)]))]);
            foreach (var gpu in gpus)
            {
                var range = new TelemetryQuery(Sample(from / 3, 0).Timestamp, Sample(from, 9).Timestamp, Limit: 1000);
                Assert.Equal((await uncached.QueryAsync(gpu.Uuid, Everything))!.Samples, (await cached.QueryAsync(gpu.Uuid, Everything))!.Samples);
                Assert.Equal((await uncached.QueryAsync(gpu.Uuid, range))!.Samples, (await cached.QueryAsync(gpu.Uuid, range))!.Samples);
                var expected = await uncached.ReadSeriesAsync(gpu.Uuid, new SeriesQuery(Points: 9));
                var actual = await cached.ReadSeriesAsync(gpu.Uuid, new SeriesQuery(Points: 9));
                Assert.Equal(expected!.Series.SelectMany(m => m.Points), actual!.Series.SelectMany(m => m.Points));
            }
        }
    }

    [Fact]
    public async Task Windows_beyond_the_cache_are_served_uncached_until_the_cached_ones_reach_the_minimum_age()
    {
        var counting = new CountingStore(new MemoryKeyValueStore());
        var clock = new ManualTimeProvider();
        var (a, b, c) = (Gpu(0, 0), Gpu(0, 1), Gpu(0, 2));
        var writer = new WindowWriter(counting, Options);
        for (var from = 0; from < 60; from += 5)
        {
            await writer.AppendAsync([.. new[] { a, b, c }.Select((gpu, g) => new GpuSamples(gpu, Instants(from, from + 5, gpu: g)))]);
        }
        var reader = new WindowReader(counting, cachedSamples: 1_300, clock); // two windows of 600, not three
        var uncached = new WindowReader(counting, cachedSamples: 0);

        await reader.QueryAsync(a.Uuid, Everything);
        await reader.QueryAsync(b.Uuid, Everything);
        var crowdedOut = await CostAsync(counting, () => reader.QueryAsync(c.Uuid, Everything));
        var crowdedOutAgain = await CostAsync(counting, () => reader.QueryAsync(c.Uuid, Everything));
        var stillCached = await CostAsync(counting, () => reader.QueryAsync(a.Uuid, Everything));

        Assert.Equal(2, crowdedOutAgain.Calls); // not kept: the cache was full of entries younger than the minimum age
        Assert.Equal(1, stillCached.Calls);
        Assert.Equal((await uncached.QueryAsync(c.Uuid, Everything))!.Samples, crowdedOut.Result!.Samples);
        Assert.Equal(crowdedOut.Result.Samples, crowdedOutAgain.Result!.Samples);

        clock.Advance(WindowReader.CacheMinimumAge);
        await reader.QueryAsync(c.Uuid, Everything); // now the oldest entries (a's) make room
        var admitted = await CostAsync(counting, () => reader.QueryAsync(c.Uuid, Everything));
        var evicted = await CostAsync(counting, () => reader.QueryAsync(a.Uuid, Everything));

        Assert.Equal(1, admitted.Calls);
        Assert.Equal(2, evicted.Calls);
        Assert.Equal(crowdedOut.Result.Samples, admitted.Result!.Samples);
        Assert.Equal((await uncached.QueryAsync(a.Uuid, Everything))!.Samples, evicted.Result!.Samples);
    }

    /// <summary>Segments the cache does not keep are decoded into pooled arrays the page owns: a page stays whole while
    /// other pages are read (no two live pages share an array), a disposed page is empty (nothing can read an array
    /// after it went back), and the arrays it returned serve later reads correctly.</summary>
    [Fact]
    public async Task Pages_decoded_outside_the_cache_own_their_pooled_arrays_until_disposed()
    {
        var store = new MemoryKeyValueStore();
        var gpus = new[] { Gpu(0, 0), Gpu(0, 1), Gpu(1, 0) };
        var writer = new WindowWriter(store, Options);
        for (var from = 0; from < 60; from += 5)
        {
            await writer.AppendAsync([.. gpus.Select((gpu, g) => new GpuSamples(gpu, Instants(from, from + 5, gpu: g)))]);
        }
        var reader = new WindowReader(store, cachedSamples: 0); // keeps nothing: every segment is decoded on loan
        var expected = gpus.Select(gpu => Instants(0, 60, gpu: Array.IndexOf(gpus, gpu))).ToArray();

        var first = (await reader.QueryAsync(gpus[0].Uuid, Everything))!;
        var second = (await reader.QueryAsync(gpus[1].Uuid, Everything))!;
        var series = await reader.ReadSeriesAsync(gpus[2].Uuid, new SeriesQuery(Points: 7)); // returns its arrays itself
        Assert.Equal(expected[0], first.Samples);
        Assert.Equal(expected[1], second.Samples);
        Assert.Equal(600, series!.Series.Sum(metric => metric.Points.Sum(point => point.Count)));

        first.Dispose();
        Assert.Empty(first.Samples);
        first.Dispose(); // twice is harmless
        for (var round = 0; round < 3; round++)
        {
            // Reads after the return reuse the arrays (the pool hands them out again on this thread).
            using var again = (await reader.QueryAsync(gpus[2].Uuid, Everything))!;
            Assert.Equal(expected[2], again.Samples);
            Assert.Equal(expected[1], second.Samples);
        }
        second.Dispose();
        using var last = (await reader.QueryAsync(gpus[0].Uuid, new TelemetryQuery(Limit: 25)))!;
        Assert.Equal(expected[0].Take(25), last.Samples);
    }

    /// <summary>The cache and the pool share nothing: a segment the cache keeps (even one decoded into a pooled array
    /// exactly its length, which the cache then keeps as it is) is never handed out by the pool again, however many
    /// reads borrow and return arrays meanwhile.</summary>
    [Theory]
    [InlineData(64)]   // room for some segments only: reads keep some and borrow the rest
    [InlineData(5000)] // room for everything
    public async Task Segments_the_cache_keeps_stay_intact_while_other_reads_borrow_and_return_arrays(int cachedSamples)
    {
        var store = new MemoryKeyValueStore();
        var gpus = Enumerable.Range(0, 4).Select(i => Gpu(0, i)).ToArray();
        // 16- and 32-sample segments: the pool's own array sizes.
        var writer = new WindowWriter(store, new WindowOptions { MaxEntries = 600, SegmentCapacity = 32 });
        for (var from = 0; from < 48; from += 8)
        {
            await writer.AppendAsync([.. gpus.Select((gpu, g) => new GpuSamples(gpu, Instants(from, from + 8, metrics: 4, gpu: g)))]);
        }
        var reader = new WindowReader(store, cachedSamples);
        var expected = Enumerable.Range(0, gpus.Length).Select(g => Instants(0, 48, metrics: 4, gpu: g)).ToArray();

        for (var round = 0; round < 4; round++)
        {
            for (var g = 0; g < gpus.Length; g++)
            {
                using var page = (await reader.QueryAsync(gpus[g].Uuid, Everything))!;
                Assert.Equal(expected[g], page.Samples);
                var series = await reader.ReadSeriesAsync(gpus[(g + 1) % gpus.Length].Uuid, new SeriesQuery(Points: 5));
                Assert.Equal(expected[0].Count, series!.Series.Sum(metric => metric.Points.Sum(point => point.Count)));
            }
        }
    }

    private static async Task<(T Result, int Calls)> CostAsync<T>(CountingStore store, Func<Task<T>> query)
    {
        store.Reset();
        var result = await query();
        return (result, store.Total);
    }
}
