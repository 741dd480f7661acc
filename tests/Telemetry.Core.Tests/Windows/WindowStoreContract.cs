using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

/// <summary>The window store's behaviour, written once and run against every key-value store.</summary>
public abstract class WindowStoreContract
{
    /// <summary>A fresh, empty store.</summary>
    protected abstract IKeyValueStore CreateStore();

    protected static WindowOptions Small => new() { MaxEntries = 50, SegmentCapacity = 16 };

    protected static WindowOptions Roomy => new() { MaxEntries = 10_000, SegmentCapacity = 64 };

    protected (TrackingStore Store, WindowWriter Writer, WindowReader Reader) Open(WindowOptions options)
    {
        var store = new TrackingStore(CreateStore());
        return (store, new WindowWriter(store, options), new WindowReader(store));
    }

    private static GpuSamples Batch(GpuIdentity gpu, IEnumerable<MetricSample> samples) => new(gpu, [.. samples]);

    // ---- storing and reading back -------------------------------------------------------------------

    [Fact]
    public async Task Reference_like_data_appended_in_batches_reads_back_in_time_order()
    {
        var (store, writer, reader) = Open(Roomy);
        var gpus = new[] { Gpu(1, 0), Gpu(1, 1), Gpu(2, 0) };
        var total = new AppendResult();
        for (var from = 0; from < 120; from += 7)
        {
            var to = Math.Min(from + 7, 120);
            total += await writer.AppendAsync([.. gpus.Select((gpu, g) => Batch(gpu, Instants(from, to, gpu: g)))]);
        }

        Assert.Equal(new AppendResult(3 * 120 * 10, 0, 0, 0), total);
        for (var g = 0; g < gpus.Length; g++)
        {
            var expected = Instants(0, 120, gpu: g);
            Assert.Equal(expected, await ReadAllAsync(reader, gpus[g].Uuid));
            var summary = await reader.GetGpuAsync(gpus[g].Uuid);
            Assert.Equal(new GpuSummary(gpus[g], expected[0].Timestamp, expected[^1].Timestamp, 1200), summary);
        }
        await WindowInvariants.CheckAsync(store, Roomy, gpus.Select(g => g.Uuid));
    }

    [Fact]
    public async Task Samples_of_one_gpu_arriving_unsorted_within_a_batch_are_stored_sorted()
    {
        var (store, writer, reader) = Open(Roomy);
        var gpu = Gpu(3, 2);
        var samples = Instants(0, 30);
        var shuffled = samples.OrderBy(_ => Random.Shared.Next()).ToList();

        var result = await writer.AppendAsync([Batch(gpu, shuffled)]);

        Assert.Equal(300, result.Stored);
        Assert.Equal(samples, await ReadAllAsync(reader, gpu.Uuid));
        await WindowInvariants.CheckAsync(store, Roomy, [gpu.Uuid]);
    }

    [Fact]
    public async Task Unknown_gpu_has_no_window()
    {
        var (_, _, reader) = Open(Roomy);
        Assert.Null(await reader.GetGpuAsync("GPU-missing"));
        Assert.Null(await reader.QueryAsync("GPU-missing", Everything));
    }

    // ---- duplicates -----------------------------------------------------------------------------------

    [Fact]
    public async Task The_same_batch_twice_is_stored_once_and_writes_nothing_the_second_time()
    {
        var (store, writer, reader) = Open(Roomy);
        var gpu = Gpu(1, 0);
        GpuSamples[] batch = [Batch(gpu, Instants(0, 20))];

        Assert.Equal(new AppendResult(200, 0, 0, 0), await writer.AppendAsync(batch));
        var manifestBefore = await store.GetAsync(WindowKeys.Manifest(gpu.Uuid));
        Assert.Equal(new AppendResult(0, 200, 0, 0), await writer.AppendAsync(batch));

        Assert.Equal(manifestBefore!.ETag, (await store.GetAsync(WindowKeys.Manifest(gpu.Uuid)))!.ETag);
        Assert.Equal(Instants(0, 20), await ReadAllAsync(reader, gpu.Uuid));
    }

    [Fact]
    public async Task Overlapping_batches_store_the_overlap_once()
    {
        var (store, writer, reader) = Open(Roomy);
        var gpu = Gpu(1, 0);

        await writer.AppendAsync([Batch(gpu, Instants(0, 20))]);
        var second = await writer.AppendAsync([Batch(gpu, Instants(10, 30))]);
        var third = await writer.AppendAsync([Batch(gpu, Instants(5, 35))]); // overlaps both ends

        Assert.Equal(new AppendResult(100, 100, 0, 0), second);
        Assert.Equal(new AppendResult(50, 250, 0, 0), third);
        Assert.Equal(Instants(0, 35), await ReadAllAsync(reader, gpu.Uuid));
        await WindowInvariants.CheckAsync(store, Roomy, [gpu.Uuid]);
    }

    [Fact]
    public async Task Duplicates_inside_one_batch_are_stored_once_and_counted()
    {
        var (store, writer, reader) = Open(Roomy);
        var gpu = Gpu(1, 0);
        var samples = Instants(0, 10);

        // The GPU appears twice in the batch, and its first group also repeats samples.
        var result = await writer.AppendAsync([
            Batch(gpu, samples.Concat(samples.Take(15))),
            Batch(gpu, samples.Skip(90)),
        ]);

        Assert.Equal(new AppendResult(100, 25, 0, 0), result);
        Assert.Equal(samples, await ReadAllAsync(reader, gpu.Uuid));
        Assert.Equal(100, (await reader.GetGpuAsync(gpu.Uuid))!.Samples);
        await WindowInvariants.CheckAsync(store, Roomy, [gpu.Uuid]);
    }

    [Fact]
    public async Task A_redelivered_copy_keeps_the_stored_value()
    {
        var (_, writer, reader) = Open(Roomy);
        var gpu = Gpu(1, 0);
        var original = Sample(1, 1);
        await writer.AppendAsync([Batch(gpu, [original])]);

        var result = await writer.AppendAsync([Batch(gpu, [original with { Value = -1 }])]);

        Assert.Equal(new AppendResult(0, 1, 0, 0), result);
        Assert.Equal([original], await ReadAllAsync(reader, gpu.Uuid));
    }

    // ---- retention --------------------------------------------------------------------------------------

    [Fact]
    public async Task In_order_appends_keep_exactly_the_newest_max_entries()
    {
        var (store, writer, reader) = Open(Small);
        var gpu = Gpu(1, 0);
        var reference = new ReferenceWindows(Small.MaxEntries);
        int[] sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 1, 1, 7, 16, 17, 33, 4];
        var instant = 0;
        var evicted = 0;
        var stored = 0;
        foreach (var size in sizes)
        {
            GpuSamples[] batch = [Batch(gpu, Instants(instant, instant + size, metrics: 3))];
            instant += size;
            reference.Offer(batch);
            var result = await writer.AppendAsync(batch);
            stored += result.Stored;
            evicted += result.Evicted;
            Assert.Equal(reference.Expected(gpu.Uuid), await ReadAllAsync(reader, gpu.Uuid));
            await WindowInvariants.CheckAsync(store, Small, [gpu.Uuid]);
        }
        Assert.Equal(instant * 3, stored);
        Assert.Equal(stored - Small.MaxEntries, evicted);
        Assert.Equal(Small.MaxEntries, (await reader.GetGpuAsync(gpu.Uuid))!.Samples);
    }

    [Fact]
    public async Task Late_batches_inside_the_window_are_merged_in_place()
    {
        var (store, writer, reader) = Open(Small);
        var gpu = Gpu(1, 0);
        var reference = new ReferenceWindows(Small.MaxEntries);
        // Even instants first, then the odd ones late, a few at a time, newest first.
        List<GpuSamples[]> batches = [[Batch(gpu, Instants(0, 40, metrics: 2).Where(s => (s.Timestamp.Ticks / TimeSpan.TicksPerSecond) % 2 == 0))]];
        for (var instant = 39; instant > 0; instant -= 6)
        {
            batches.Add([Batch(gpu, Enumerable.Range(Math.Max(0, instant - 5), 6).Where(i => i % 2 == 1).SelectMany(i => Instants(i, i + 1, metrics: 2)))]);
        }
        foreach (var batch in batches)
        {
            reference.Offer(batch);
            await writer.AppendAsync(batch);
            Assert.Equal(reference.Expected(gpu.Uuid), await ReadAllAsync(reader, gpu.Uuid));
            await WindowInvariants.CheckAsync(store, Small, [gpu.Uuid]);
        }
    }

    [Fact]
    public async Task Samples_older_than_a_full_window_are_refused_without_a_write()
    {
        var (store, writer, reader) = Open(Small);
        var gpu = Gpu(1, 0);
        await writer.AppendAsync([Batch(gpu, Instants(0, 100, metrics: 3))]); // keeps the last 50 samples
        var window = await ReadAllAsync(reader, gpu.Uuid);
        var manifest = await store.GetAsync(WindowKeys.Manifest(gpu.Uuid));

        // Instants 0..9 are older than anything kept; 80 (one metric) was evicted from the head segment's
        // skipped part; samples of instant 83 are the oldest kept ones... except metric 0, which went.
        var late = Instants(0, 10, metrics: 3).Concat(Instants(80, 83, metrics: 3)).Append(Sample(83, 0)).ToList();
        Assert.Equal(Sample(83, 1), window[0]);
        var result = await writer.AppendAsync([Batch(gpu, late)]);

        Assert.Equal(0, result.Stored);
        Assert.Equal(window, await ReadAllAsync(reader, gpu.Uuid));
        Assert.Equal(manifest!.ETag, (await store.GetAsync(WindowKeys.Manifest(gpu.Uuid)))!.ETag);
    }

    [Fact]
    public async Task Late_samples_newer_than_the_oldest_kept_push_the_oldest_out()
    {
        var (store, writer, reader) = Open(Small);
        var gpu = Gpu(1, 0);
        var reference = new ReferenceWindows(Small.MaxEntries);
        GpuSamples[] first = [Batch(gpu, Instants(0, 60, metrics: 3).Where(s => s.MetricName != Metrics[1]))];
        GpuSamples[] late = [Batch(gpu, Instants(40, 60, metrics: 3).Where(s => s.MetricName == Metrics[1]))];
        reference.Offer(first);
        reference.Offer(late);

        await writer.AppendAsync(first);
        var result = await writer.AppendAsync(late);

        Assert.Equal(20, result.Stored);
        Assert.Equal(20, result.Evicted);
        Assert.Equal(reference.Expected(gpu.Uuid), await ReadAllAsync(reader, gpu.Uuid));
        await WindowInvariants.CheckAsync(store, Small, [gpu.Uuid]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Any_arrival_order_ends_in_the_reference_window(int seed)
    {
        var options = Small;
        var (store, writer, reader) = Open(options);
        var random = new Random(seed);
        GpuIdentity[] gpus = [Gpu(1, 0), Gpu(1, 1), Gpu(2, 0)];
        var reference = new ReferenceWindows(options.MaxEntries);
        var pool = gpus.Select((_, g) => Instants(0, 60, metrics: random.Next(1, 5), gpu: g)).ToArray();

        for (var round = 0; round < 60; round++)
        {
            var batch = new List<GpuSamples>();
            foreach (var g in Enumerable.Range(0, gpus.Length).Where(_ => random.Next(3) > 0))
            {
                var samples = pool[g];
                // Mostly recent data with stragglers and redeliveries from anywhere.
                var centre = Math.Min(samples.Count - 1, round * samples.Count / 50);
                var picked = Enumerable.Range(0, random.Next(1, 30)).Select(_ => random.Next(4) == 0
                    ? samples[random.Next(samples.Count)]
                    : samples[Math.Clamp(centre + random.Next(-20, 20), 0, samples.Count - 1)]);
                batch.Add(Batch(gpus[g], picked));
            }
            reference.Offer(batch);
            await writer.AppendAsync(batch);
        }

        foreach (var gpu in gpus)
        {
            Assert.Equal(reference.Expected(gpu.Uuid), await ReadAllAsync(reader, gpu.Uuid));
            Assert.Equal(reference.Expected(gpu.Uuid).Count, (await reader.GetGpuAsync(gpu.Uuid))?.Samples ?? 0);
        }
        await WindowInvariants.CheckAsync(store, options, gpus.Select(g => g.Uuid));
    }

    [Fact]
    public async Task Samples_arriving_newest_first_do_not_fragment_the_window()
    {
        var options = new WindowOptions { MaxEntries = 200, SegmentCapacity = 16 };
        var (store, writer, reader) = Open(options);
        var gpu = Gpu(1, 0);
        var samples = Instants(0, 200, metrics: 1);

        for (var i = samples.Count - 1; i >= 0; i--) await writer.AppendAsync([Batch(gpu, [samples[i]])]);

        Assert.Equal(samples, await ReadAllAsync(reader, gpu.Uuid));
        await WindowInvariants.CheckAsync(store, options, [gpu.Uuid]);
    }

    [Fact]
    public async Task Every_stored_value_stays_small_with_reference_sized_segments()
    {
        var options = new WindowOptions { MaxEntries = 3000, SegmentCapacity = 256 };
        var (store, writer, _) = Open(options);
        GpuIdentity[] gpus = [Gpu(1, 0), Gpu(1, 1)];
        for (var from = 0; from < 400; from += 9)
        {
            await writer.AppendAsync([.. gpus.Select((gpu, g) => Batch(gpu, Instants(from, from + 9, gpu: g)))]);
        }
        await WindowInvariants.CheckAsync(store, options, gpus.Select(g => g.Uuid));
    }

    // ---- time-range queries -------------------------------------------------------------------------------

    private async Task<(WindowReader Reader, GpuIdentity Gpu, List<MetricSample> All, TrackingStore Store, WindowWriter Writer)> SeededAsync()
    {
        var (store, writer, reader) = Open(new WindowOptions { MaxEntries = 10_000, SegmentCapacity = 16 });
        var gpu = Gpu(4, 3);
        for (var from = 0; from < 50; from += 5) await writer.AppendAsync([Batch(gpu, Instants(from, from + 5))]);
        return (reader, gpu, Instants(0, 50), store, writer);
    }

    [Fact]
    public async Task Start_and_end_are_inclusive_to_the_tick()
    {
        var (reader, gpu, all, _, _) = await SeededAsync();
        var start = Sample(10, 0).Timestamp;
        var end = Sample(20, 0).Timestamp;

        var page = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(start, end));
        Assert.Equal(all.Where(s => s.Timestamp >= start && s.Timestamp <= end), page!.Samples);
        Assert.Equal(110, page.Samples.Count);

        var inner = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(start.AddTicks(1), end.AddTicks(-1)));
        Assert.Equal(90, inner!.Samples.Count);
        Assert.Equal(Sample(11, 0), inner.Samples[0]);
        Assert.Equal(Sample(19, 9), inner.Samples[^1]);

        var instant = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(start, start));
        Assert.Equal(Instants(10, 11), instant!.Samples);

        Assert.Empty((await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(end, start)))!.Samples);
        Assert.Empty((await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(Sample(49, 9).Timestamp.AddTicks(1))))!.Samples);
        Assert.Equal(all.Take(10), (await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(End: Sample(0, 0).Timestamp)))!.Samples);
    }

    [Fact]
    public async Task Metric_filter_keeps_only_the_named_metrics()
    {
        var (reader, gpu, all, _, _) = await SeededAsync();
        var wanted = new HashSet<string> { Metrics[2], Metrics[7] };

        var page = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(Metrics: wanted, Limit: 1000));

        Assert.Equal(all.Where(s => wanted.Contains(s.MetricName)), page!.Samples);
        Assert.Null(page.Next);
        var none = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(Metrics: new HashSet<string> { "NOT_A_METRIC" }));
        Assert.Empty(none!.Samples);
        Assert.Null(none.Next);
    }

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(7, false, false)]
    [InlineData(10, true, false)]
    [InlineData(33, true, true)]
    [InlineData(499, false, true)]
    [InlineData(500, false, false)]
    public async Task Cursor_paging_walks_the_window_without_gaps_or_repeats(int limit, bool filter, bool range)
    {
        var (reader, gpu, all, _, _) = await SeededAsync();
        var metrics = filter ? new HashSet<string> { Metrics[0], Metrics[5], Metrics[9] } : null;
        DateTime? start = range ? Sample(3, 4).Timestamp : null;
        DateTime? end = range ? Sample(44, 0).Timestamp : null;
        var expected = all.Where(s => (metrics is null || metrics.Contains(s.MetricName))
            && (start is null || s.Timestamp >= start) && (end is null || s.Timestamp <= end)).ToList();

        var walked = new List<MetricSample>();
        TelemetryCursor? cursor = null;
        var pages = 0;
        do
        {
            var page = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(start, end, metrics, limit, cursor));
            Assert.True(page!.Samples.Count <= limit);
            if (page.Next is not null) Assert.Equal(limit, page.Samples.Count);
            walked.AddRange(page.Samples);
            // The cursor also survives its text form, as it does through the API.
            cursor = page.Next is { } next && TelemetryCursor.TryDecode(next.Encode(), out var decoded) ? decoded : null;
            Assert.Equal(page.Next, cursor);
            Assert.True(++pages <= expected.Count + 1, "paging does not terminate");
        } while (cursor is not null);

        Assert.Equal(expected, walked);
        Assert.Equal(Math.Max(1, (expected.Count + limit - 1) / limit), pages);
    }

    [Fact]
    public async Task Paging_stays_stable_while_new_samples_arrive()
    {
        var (reader, gpu, all, _, writer) = await SeededAsync();

        var first = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(Limit: 120));
        await writer.AppendAsync([Batch(gpu, Instants(50, 60))]);
        var walked = new List<MetricSample>(first!.Samples);
        var cursor = first.Next;
        var appended = false;
        while (cursor is not null)
        {
            var page = await reader.QueryAsync(gpu.Uuid, new TelemetryQuery(Limit: 120, After: cursor));
            walked.AddRange(page!.Samples);
            cursor = page.Next;
            if (!appended)
            {
                await writer.AppendAsync([Batch(gpu, Instants(60, 75))]);
                appended = true;
            }
        }

        Assert.Equal(Instants(0, 75), walked);
        Assert.Equal(all, walked.Take(all.Count));
    }

    // ---- GPU directory ------------------------------------------------------------------------------------

    private async Task<(WindowReader Reader, List<GpuIdentity> Gpus)> ClusterAsync()
    {
        var (_, writer, reader) = Open(Roomy);
        // Hosts and indexes deliberately out of order, indexes >= 10 to catch text sorting.
        var gpus = new List<GpuIdentity>();
        foreach (var host in new[] { 7, 2, 11, 5 })
        {
            foreach (var index in new[] { 10, 3, 0, 2 }.Take(host % 4 + 1)) gpus.Add(Gpu(host, index));
        }
        var shuffled = gpus.OrderBy(g => g.Uuid.GetHashCode()).ToList();
        for (var i = 0; i < shuffled.Count; i += 3)
        {
            await writer.AppendAsync([.. shuffled.Skip(i).Take(3).Select(g => Batch(g, Instants(i, i + 2)))]);
        }
        return (reader, gpus);
    }

    private static List<GpuIdentity> Sorted(IEnumerable<GpuIdentity> gpus) =>
        [.. gpus.OrderBy(g => g.Hostname, StringComparer.Ordinal).ThenBy(g => g.GpuIndex)];

    [Fact]
    public async Task Gpus_are_listed_by_hostname_then_index()
    {
        var (reader, gpus) = await ClusterAsync();

        var page = await reader.ListGpusAsync(new GpuListQuery());

        Assert.Equal(Sorted(gpus), page.Gpus.Select(s => s.Gpu));
        Assert.Equal(gpus.Count, page.Total);
        Assert.False(page.HasNext);
        Assert.All(page.Gpus, s => Assert.Equal(20, s.Samples));
    }

    [Fact]
    public async Task Gpu_list_follows_appends_to_a_listed_gpu()
    {
        var (_, writer, reader) = Open(Roomy);
        await writer.AppendAsync([Batch(Gpu(3, 1), Instants(0, 1))]);
        var before = Assert.Single((await reader.ListGpusAsync(new GpuListQuery())).Gpus);

        // The reader keeps each listed manifest's summary; a new version of the manifest must replace it.
        await writer.AppendAsync([Batch(Gpu(3, 1), Instants(2, 5))]);
        var after = Assert.Single((await reader.ListGpusAsync(new GpuListQuery())).Gpus);

        Assert.True(after.Samples > before.Samples);
        Assert.True(after.LastSeen > before.LastSeen);
        Assert.Equal(after, await reader.GetGpuAsync(Gpu(3, 1).Uuid));
    }

    [Fact]
    public async Task Gpu_list_follows_new_gpus_and_changed_identities_between_reads()
    {
        var (_, writer, reader) = Open(Roomy);
        await writer.AppendAsync([Batch(Gpu(3, 1), Instants(0, 1))]);
        Assert.Equal([Gpu(3, 1)], (await reader.ListGpusAsync(new GpuListQuery())).Gpus.Select(s => s.Gpu));

        // The reader keeps its decoded directory between calls; a new GPU must still show up at once.
        await writer.AppendAsync([Batch(Gpu(1, 0), Instants(0, 1))]);
        Assert.Equal([Gpu(1, 0), Gpu(3, 1)], (await reader.ListGpusAsync(new GpuListQuery())).Gpus.Select(s => s.Gpu));

        var moved = Gpu(1, 0) with { Hostname = "zz-host" };
        await writer.AppendAsync([Batch(moved, Instants(2, 3))]);
        Assert.Equal([Gpu(3, 1), moved], (await reader.ListGpusAsync(new GpuListQuery())).Gpus.Select(s => s.Gpu));
    }

    [Fact]
    public async Task Gpu_list_filters_by_hostname()
    {
        var (reader, gpus) = await ClusterAsync();
        var host = Gpu(11, 0).Hostname;

        var page = await reader.ListGpusAsync(new GpuListQuery(Hostname: host));

        Assert.Equal(Sorted(gpus.Where(g => g.Hostname == host)), page.Gpus.Select(s => s.Gpu));
        Assert.Equal(4, page.Total);
        Assert.Empty((await reader.ListGpusAsync(new GpuListQuery(Hostname: "no-such-host"))).Gpus);
    }

    [Fact]
    public async Task Gpu_list_pages_with_limit_and_offset()
    {
        var (reader, gpus) = await ClusterAsync();
        var sorted = Sorted(gpus);

        var walked = new List<GpuIdentity>();
        for (var offset = 0; ; offset += 3)
        {
            var page = await reader.ListGpusAsync(new GpuListQuery(Limit: 3, Offset: offset));
            Assert.Equal(sorted.Count, page.Total);
            walked.AddRange(page.Gpus.Select(s => s.Gpu));
            Assert.Equal(offset + 3 < sorted.Count, page.HasNext);
            if (!page.HasNext) break;
        }
        Assert.Equal(sorted, walked);

        var beyond = await reader.ListGpusAsync(new GpuListQuery(Limit: 3, Offset: 100));
        Assert.Empty(beyond.Gpus);
        Assert.False(beyond.HasNext);
        Assert.Equal(sorted.Count, beyond.Total);
    }

    [Fact]
    public async Task Hosts_are_listed_with_their_gpu_counts()
    {
        var (reader, gpus) = await ClusterAsync();

        var hosts = await reader.ListHostsAsync();

        Assert.Equal(
            gpus.GroupBy(g => g.Hostname).OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => new HostSummary(h.Key, h.Count())),
            hosts);
    }

    [Fact]
    public async Task Gpu_summary_tracks_first_and_last_seen_and_the_retained_count()
    {
        var (_, writer, reader) = Open(Small);
        var gpu = Gpu(1, 0);
        await writer.AppendAsync([Batch(gpu, Instants(10, 12, metrics: 3))]);
        Assert.Equal(new GpuSummary(gpu, Sample(10, 0).Timestamp, Sample(11, 0).Timestamp, 6), await reader.GetGpuAsync(gpu.Uuid));

        await writer.AppendAsync([Batch(gpu, Instants(5, 6, metrics: 3))]); // late, but earlier than all
        await writer.AppendAsync([Batch(gpu, Instants(30, 31, metrics: 2))]);
        Assert.Equal(new GpuSummary(gpu, Sample(5, 0).Timestamp, Sample(30, 0).Timestamp, 11), await reader.GetGpuAsync(gpu.Uuid));

        await writer.AppendAsync([Batch(gpu, Instants(31, 60, metrics: 3))]); // evicts the early ones
        var summary = await reader.GetGpuAsync(gpu.Uuid);
        Assert.Equal(Sample(5, 0).Timestamp, summary!.FirstSeen); // first seen is history, not the window
        Assert.Equal(Sample(59, 0).Timestamp, summary.LastSeen);
        Assert.Equal(50, summary.Samples);
    }

    [Fact]
    public async Task A_changed_identity_is_reflected_in_listing_and_summary()
    {
        var (_, writer, reader) = Open(Roomy);
        var gpu = Gpu(1, 0);
        await writer.AppendAsync([Batch(gpu, Instants(0, 1))]);
        var moved = gpu with { Hostname = "zz-new-host", Model = "NVIDIA B200" };

        await writer.AppendAsync([Batch(moved, Instants(1, 2))]);

        Assert.Equal(moved, (await reader.GetGpuAsync(gpu.Uuid))!.Gpu);
        Assert.Equal([moved], (await reader.ListGpusAsync(new GpuListQuery())).Gpus.Select(s => s.Gpu));
        Assert.Equal([new HostSummary("zz-new-host", 1)], await reader.ListHostsAsync());
    }
}
