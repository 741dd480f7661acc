using System.Buffers;
using System.Collections.Concurrent;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Windows;

/// <summary>
/// Reads windows for the gateway. Every query costs a fixed, small number of store round trips: one for the
/// manifest (or the directory), one bulk read for the segments the time range needs, and — only when a
/// metric filter leaves the first guess short — one more. A segment deleted between the two reads (a writer
/// compacted it) makes the read start over from a fresh manifest.
/// </summary>
public sealed class WindowReader(IKeyValueStore store, int cachedSamples = WindowReader.DefaultCachedSamples, TimeProvider? clock = null)
{
    /// <summary>Decoded samples kept for later queries by a reader built without a size: about 80 MB, the whole
    /// windows of ~200 GPUs at the default window size. The gateway sizes its reader's cache with
    /// <see cref="CacheSamplesFor"/> unless <c>QUERY_CACHE_SAMPLES</c> says otherwise (0 turns the cache off).</summary>
    public const int DefaultCachedSamples = 2 << 20;

    /// <summary>What one cached sample costs: a <see cref="MetricSample"/> array element (its name is shared).</summary>
    public const int BytesPerCachedSample = 40;

    /// <summary>The most samples a cache may hold (4 GB).</summary>
    public const int MaxCachedSamples = 100_000_000;

    /// <summary>
    /// The cache for a process that may use <paramref name="availableMemoryBytes"/> (the runtime's figure, which
    /// honours a container's memory limit): a tenth of it. A fixed 80 MB held ~200 windows whatever the machine: with
    /// 247 GPUs' windows read at random, one request in six decoded a window from the store and the slowest requests
    /// were those (docs/performance.md, "seventh pass"). VictoriaMetrics, the reference, lets its caches take 60% of
    /// system memory by default (<c>-memory.allowedPercent</c>).
    /// </summary>
    public static int CacheSamplesFor(long availableMemoryBytes) =>
        (int)Math.Clamp(availableMemoryBytes / 10 / BytesPerCachedSample, 0, MaxCachedSamples);

    /// <summary>How long a decoded segment stays cached before a newer one may take its place (see
    /// <see cref="SegmentCache"/>): the cache turns over at most once a minute, however many windows are read.</summary>
    public static readonly TimeSpan CacheMinimumAge = TimeSpan.FromMinutes(1);

    private const int MaxReadAttempts = 5;
    private readonly SegmentCache _decoded = new(cachedSamples, CacheMinimumAge, clock);
    private volatile DirectorySnapshot? _directory;
    // Each GPU's manifest as last decoded, with its summary once a listing asked for it: a listing pages through
    // manifests that mostly did not change since the last listing, and decoding a hundred of them was most of its
    // work; every query reads its GPU's manifest first, and decoding it was ~0.02 ms of each (docs/performance.md,
    // "tenth pass"). One entry per GPU; readers never change a decoded manifest, so one is shared.
    // Validated by content, not ETag: Redis's versions are per key and start again at 1 after a delete (e.g. a
    // flushed store), so an ETag alone could vouch for another value (components-contrib state/redis, HINCRBY).
    private readonly ConcurrentDictionary<string, KnownManifest> _manifests = new(StringComparer.Ordinal);

    private sealed class KnownManifest(byte[] bytes, WindowManifest manifest)
    {
        public byte[] Bytes { get; } = bytes;
        public WindowManifest Manifest { get; } = manifest;
        public GpuOverview? Overview { get; set; }
    }

    public Task<bool> IsStoreReachableAsync(CancellationToken cancellationToken = default) => store.PingAsync(cancellationToken);

    public async Task<GpuSummary?> GetGpuAsync(string uuid, CancellationToken cancellationToken = default) =>
        (await GetGpuOverviewAsync(uuid, cancellationToken).ConfigureAwait(false))?.Summary;

    /// <summary>The GPU and its metrics' newest values: one read, the manifest.</summary>
    public async Task<GpuOverview?> GetGpuOverviewAsync(string uuid, CancellationToken cancellationToken = default)
    {
        var item = await store.GetAsync(WindowKeys.Manifest(uuid), cancellationToken).ConfigureAwait(false);
        return item is null ? null : OverviewOf(uuid, item);
    }

    /// <summary>The stored identity of each GPU in <paramref name="uuids"/> that has a window, in one bulk read.</summary>
    public async Task<IReadOnlyDictionary<string, GpuIdentity>> GetIdentitiesAsync(IReadOnlyCollection<string> uuids, CancellationToken cancellationToken = default)
    {
        var manifests = await store.GetManyAsync([.. uuids.Select(WindowKeys.Manifest)], cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<string, GpuIdentity>(manifests.Count, StringComparer.Ordinal);
        foreach (var uuid in uuids)
        {
            if (manifests.TryGetValue(WindowKeys.Manifest(uuid), out var item)) result[uuid] = Decoded(uuid, item).Manifest.Gpu;
        }
        return result;
    }

    public async Task<GpuPage> ListGpusAsync(GpuListQuery query, CancellationToken cancellationToken = default)
    {
        var page = await ListGpuOverviewsAsync(query, cancellationToken).ConfigureAwait(false);
        return new GpuPage([.. page.Gpus.Select(gpu => gpu.Summary)], page.Total, page.HasNext);
    }

    /// <summary>A page of GPUs with their newest values. Two store round trips whatever the page size: one bulk
    /// read of the directory, one of the page's manifests (the newest values live in the manifests).</summary>
    public async Task<GpuOverviewPage> ListGpuOverviewsAsync(GpuListQuery query, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<GpuIdentity> known = await ReadDirectoryAsync(cancellationToken).ConfigureAwait(false);
        if (query.Hostname is { } hostname) known = [.. known.Where(gpu => gpu.Hostname == hostname)];
        var page = known.Skip(query.Offset).Take(query.Limit).ToList();
        var manifests = await store.GetManyAsync(page.ConvertAll(gpu => WindowKeys.Manifest(gpu.Uuid)), cancellationToken)
            .ConfigureAwait(false);
        var overviews = new List<GpuOverview>(page.Count);
        foreach (var gpu in page)
        {
            // A GPU is listed once its first samples committed; one registered by a writer that then died is not.
            if (manifests.TryGetValue(WindowKeys.Manifest(gpu.Uuid), out var item)) overviews.Add(OverviewOf(gpu.Uuid, item));
        }
        return new GpuOverviewPage(overviews, known.Count, query.Offset + page.Count < known.Count);
    }

    public async Task<IReadOnlyList<HostSummary>> ListHostsAsync(CancellationToken cancellationToken = default)
    {
        var known = await ReadDirectoryAsync(cancellationToken).ConfigureAwait(false);
        var hosts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var gpu in known) hosts[gpu.Hostname] = hosts.GetValueOrDefault(gpu.Hostname) + 1;
        return [.. hosts.Select(host => new HostSummary(host.Key, host.Value))];
    }

    /// <summary>Null when the GPU has no window.</summary>
    public async Task<TelemetryPage?> QueryAsync(string uuid, TelemetryQuery query, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var item = await store.GetAsync(WindowKeys.Manifest(uuid), cancellationToken).ConfigureAwait(false);
            if (item is null) return null;
            var page = await TryQueryAsync(Decoded(uuid, item).Manifest, query, cancellationToken).ConfigureAwait(false);
            if (page is not null) return page;
            if (attempt == MaxReadAttempts)
            {
                throw new InvalidOperationException($"The window of GPU '{uuid}' kept changing during {MaxReadAttempts} reads.");
            }
        }
    }

    /// <summary>A GPU's samples over a time range, downsampled into buckets (<see cref="SeriesBuilder"/>); null
    /// when the GPU has no window. Two round trips: the manifest, then the segments the range needs (in bulk
    /// reads of at most <see cref="SeriesSegmentsPerRead"/> segments, so a very large window stays under the
    /// sidecar's message limit).</summary>
    public async Task<SeriesResult?> ReadSeriesAsync(string uuid, SeriesQuery query, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var item = await store.GetAsync(WindowKeys.Manifest(uuid), cancellationToken).ConfigureAwait(false);
            if (item is null) return null;
            using var samples = await TryReadRangeAsync(Decoded(uuid, item).Manifest, query, cancellationToken).ConfigureAwait(false);
            if (samples is not null) return SeriesBuilder.Build(samples, query.Start, query.End, query.Points, query.Metrics);
            if (attempt == MaxReadAttempts)
            {
                throw new InvalidOperationException($"The window of GPU '{uuid}' kept changing during {MaxReadAttempts} reads.");
            }
        }
    }

    /// <summary>About 2 MB of segments at the default segment size: half of Dapr's 4 MB gRPC limit.</summary>
    internal const int SeriesSegmentsPerRead = 32;

    /// <summary>Every sample of the range in time order, or null when a segment vanished (a writer compacted it). Every
    /// metric: the builder skips those not asked for as it buckets, at no cost per sample.</summary>
    private async Task<SampleRuns?> TryReadRangeAsync(WindowManifest manifest, SeriesQuery query, CancellationToken cancellationToken)
    {
        var from = query.Start?.Ticks ?? long.MinValue;
        var to = query.End?.Ticks ?? long.MaxValue;
        var segments = manifest.Segments.Where(segment => segment.To >= from && segment.From <= to).ToList();
        var found = new SampleRuns();
        foreach (var chunk in segments.Chunk(SeriesSegmentsPerRead))
        {
            var keys = Array.ConvertAll(chunk, segment => WindowKeys.Segment(manifest.Gpu.Uuid, segment.Id));
            var read = await ReadSegmentsAsync(keys, found, cancellationToken).ConfigureAwait(false);
            if (read is null)
            {
                found.Dispose();
                return null;
            }
            for (var i = 0; i < chunk.Length; i++)
            {
                found.Add(InRange(read[i], chunk[i].Skip, from, to));
            }
        }
        return found;
    }

    private async Task<TelemetryPage?> TryQueryAsync(WindowManifest manifest, TelemetryQuery query, CancellationToken cancellationToken)
    {
        var from = query.Start?.Ticks ?? long.MinValue;
        if (query.After is { } after) from = Math.Max(from, after.Ticks);
        var to = query.End?.Ticks ?? long.MaxValue;

        var candidates = new List<int>();
        for (var i = 0; i < manifest.Segments.Count; i++)
        {
            var segment = manifest.Segments[i];
            if (segment.To >= from && segment.From <= to) candidates.Add(i);
        }

        var wanted = query.Limit + 1; // one more than a page tells whether another page exists
        var filter = MetricFilter.For(query.Metrics);
        var found = new SampleRuns();
        var next = 0;
        while (next < candidates.Count && found.Count < wanted)
        {
            // First round: just enough segments to fill a page if every sample matched; then all the rest.
            var take = candidates.Count - next;
            if (next == 0)
            {
                var expected = 0;
                take = 0;
                while (next + take < candidates.Count && expected < wanted)
                {
                    var segment = manifest.Segments[candidates[next + take]];
                    expected += segment.Count - segment.Skip;
                    take++;
                }
            }
            var keys = new string[take];
            for (var i = 0; i < take; i++) keys[i] = WindowKeys.Segment(manifest.Gpu.Uuid, manifest.Segments[candidates[next + i]].Id);
            var read = await ReadSegmentsAsync(keys, found, cancellationToken).ConfigureAwait(false);
            if (read is null)
            {
                found.Dispose();
                return null;
            }
            for (var i = 0; i < take && found.Count < wanted; i++)
            {
                var samples = InRange(read[i], manifest.Segments[candidates[next + i]].Skip, from, to);
                if (query.After is not null || filter is not null)
                {
                    var position = query.After;
                    samples = Matching(samples, sample =>
                        (position is not { } cursor || cursor.Precedes(sample)) && (filter is null || filter.Wants(sample.MetricName)));
                }
                if (found.Count + samples.Count > wanted) samples = samples[..(wanted - found.Count)];
                found.Add(samples);
            }
            next += take;
        }

        if (found.Count <= query.Limit) return new TelemetryPage(found, null);
        found.RemoveLast();
        return new TelemetryPage(found, TelemetryCursor.After(found[found.Count - 1]));
    }

    /// <summary>Each key's decoded samples, in the order of <paramref name="keys"/>: from the cache, else in one bulk
    /// read, decoded whole and cached. Null when a segment is gone (a writer compacted it since the manifest was read).
    /// <para>A segment the cache has no room for is decoded into a pooled array that <paramref name="owner"/> takes
    /// and returns when disposed. With more windows than the cache holds (1,000 GPUs against room for ~200), most
    /// whole-window queries decode ten segments; as new arrays that was ~400 kB of garbage per request and a gen-0
    /// collection every ~40 requests (docs/performance.md, "fifth pass").</para></summary>
    private async Task<ArraySegment<MetricSample>[]?> ReadSegmentsAsync(IReadOnlyList<string> keys, SampleRuns owner, CancellationToken cancellationToken)
    {
        var decoded = new ArraySegment<MetricSample>[keys.Count];
        List<int>? missing = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (_decoded.TryGet(keys[i], out var cached)) decoded[i] = cached;
            else (missing ??= []).Add(i);
        }
        if (missing is null) return decoded;
        var read = await store.GetManyAsync([.. missing.Select(i => keys[i])], cancellationToken).ConfigureAwait(false);
        foreach (var i in missing)
        {
            if (!read.TryGetValue(keys[i], out var stored)) return null;
            var samples = WindowCodec.DecodeSegmentForLoan(stored.Value, out var rented);
            if (_decoded.Add(keys[i], samples) is { } kept)
            {
                // The cache copied the samples, or (a rented array exactly their length) kept the array itself: then
                // it is the cache's now and never goes back to the pool.
                if (rented && !ReferenceEquals(kept, samples.Array)) ArrayPool<MetricSample>.Shared.Return(samples.Array!);
                decoded[i] = kept;
            }
            else
            {
                if (rented) owner.Own(samples.Array!);
                decoded[i] = samples;
            }
        }
        return decoded;
    }

    /// <summary>The samples of a decoded segment from index <paramref name="skip"/> on whose times lie in
    /// [<paramref name="from"/>, <paramref name="to"/>] (a segment's times never decrease), without copying.</summary>
    private static ArraySegment<MetricSample> InRange(ArraySegment<MetricSample> samples, int skip, long from, long to)
    {
        var first = Math.Min(skip, samples.Count);
        var end = samples.Count;
        if (from != long.MinValue) first = FirstAtOrAfter(samples, first, end, from);
        if (to != long.MaxValue) end = FirstAtOrAfter(samples, first, end, to == long.MaxValue ? to : to + 1);
        return samples.Slice(first, end - first);

        static int FirstAtOrAfter(ArraySegment<MetricSample> samples, int low, int high, long ticks)
        {
            while (low < high)
            {
                var middle = low + (high - low) / 2;
                if (samples[middle].Timestamp.Ticks < ticks) low = middle + 1;
                else high = middle;
            }
            return low;
        }
    }

    /// <summary>A copy of the samples that pass: cached arrays are shared and never changed.</summary>
    private static ArraySegment<MetricSample> Matching(ArraySegment<MetricSample> samples, Func<MetricSample, bool> passes)
    {
        var kept = new List<MetricSample>();
        foreach (var sample in samples)
        {
            if (passes(sample)) kept.Add(sample);
        }
        return kept.Count == samples.Count ? samples : new ArraySegment<MetricSample>([.. kept]);
    }

    /// <summary>Every known GPU, ordered by hostname, then GPU index, then uuid. The buckets are read on every
    /// call (one round trip), but decoded and sorted again only when one of them changed, which happens only
    /// when a GPU first appears: with thousands of GPUs that work dominated a listing.</summary>
    private async Task<IReadOnlyList<GpuIdentity>> ReadDirectoryAsync(CancellationToken cancellationToken)
    {
        var buckets = await store.GetManyAsync(WindowKeys.AllDirectoryBuckets, cancellationToken).ConfigureAwait(false);
        var cached = _directory;
        if (cached is not null && cached.Matches(buckets)) return cached.Gpus;

        var gpus = new List<GpuIdentity>();
        foreach (var bucket in buckets.Values) gpus.AddRange(WindowCodec.DecodeBucket(bucket.Value).Gpus);
        gpus.Sort(static (a, b) =>
        {
            var byHost = string.CompareOrdinal(a.Hostname, b.Hostname);
            if (byHost != 0) return byHost;
            var byIndex = a.GpuIndex.CompareTo(b.GpuIndex);
            return byIndex != 0 ? byIndex : string.CompareOrdinal(a.Uuid, b.Uuid);
        });
        _directory = new DirectorySnapshot(buckets.ToDictionary(b => b.Key, b => b.Value.Value, StringComparer.Ordinal), gpus);
        return gpus;
    }

    private sealed record DirectorySnapshot(Dictionary<string, byte[]> Buckets, IReadOnlyList<GpuIdentity> Gpus)
    {
        public bool Matches(IReadOnlyDictionary<string, StoredItem> read) =>
            read.Count == Buckets.Count
            && read.All(bucket => Buckets.TryGetValue(bucket.Key, out var known) && known.AsSpan().SequenceEqual(bucket.Value.Value));
    }

    private GpuOverview OverviewOf(string uuid, StoredItem manifest)
    {
        var known = Decoded(uuid, manifest);
        // Two listings at once may both make it; either is right.
        return known.Overview ??= new GpuOverview(Summarise(known.Manifest), LatestValues.ToSamples(known.Manifest.Latest));
    }

    private KnownManifest Decoded(string uuid, StoredItem manifest)
    {
        if (_manifests.TryGetValue(uuid, out var known) && known.Bytes.AsSpan().SequenceEqual(manifest.Value)) return known;
        var decoded = new KnownManifest(manifest.Value, WindowCodec.DecodeManifest(manifest.Value));
        _manifests[uuid] = decoded;
        return decoded;
    }

    private static GpuSummary Summarise(WindowManifest manifest) => new(
        manifest.Gpu,
        new DateTime(manifest.FirstSeen, DateTimeKind.Utc),
        new DateTime(manifest.LastSeen, DateTimeKind.Utc),
        manifest.Retained);
}

/// <summary>A page's samples as the runs they were decoded in, neither copied into one array nor held in one:
/// a full page as one array (10,000 samples, 400 kB) lands on the large-object heap, and every such
/// allocation brings a full collection nearer. A run of one default-size segment stays below that heap.
/// <para>Runs may lie in pooled arrays it owns (segments decoded for this read alone): <see cref="Dispose"/> returns
/// them and empties the list, so dispose only when done with the samples. Not disposing is safe: the arrays are then
/// left to the garbage collector.</para></summary>
public sealed class SampleRuns : IReadOnlyList<MetricSample>, IDisposable
{
    private readonly List<ArraySegment<MetricSample>> _runs = [];
    private List<MetricSample[]>? _rented;

    /// <summary>Takes <paramref name="rented"/> (from <see cref="ArrayPool{T}.Shared"/>), returned on <see cref="Dispose"/>.</summary>
    internal void Own(MetricSample[] rented) => (_rented ??= []).Add(rented);

    public void Dispose()
    {
        _runs.Clear();
        Count = 0;
        if (_rented is null) return;
        foreach (var array in _rented) ArrayPool<MetricSample>.Shared.Return(array);
        _rented = null;
    }

    /// <summary>The samples of <paramref name="samples"/> as contiguous runs: a writer of many samples walks spans
    /// instead of calling through the list interface for each one.</summary>
    public static IEnumerable<ArraySegment<MetricSample>> Of(IReadOnlyList<MetricSample> samples) => samples switch
    {
        SampleRuns runs => runs._runs,
        MetricSample[] array => [new ArraySegment<MetricSample>(array)],
        _ => [new ArraySegment<MetricSample>([.. samples])],
    };

    public int Count { get; private set; }

    public MetricSample this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            foreach (var run in _runs)
            {
                if (index < run.Count) return run[index];
                index -= run.Count;
            }
            throw new InvalidOperationException("Unreachable.");
        }
    }

    public void Add(ArraySegment<MetricSample> run)
    {
        if (run.Count == 0) return;
        _runs.Add(run);
        Count += run.Count;
    }

    public void RemoveLast()
    {
        var last = _runs[^1];
        if (last.Count == 1) _runs.RemoveAt(_runs.Count - 1);
        else _runs[^1] = last[..^1];
        Count--;
    }

    public IEnumerator<MetricSample> GetEnumerator()
    {
        foreach (var run in _runs)
        {
            foreach (var sample in run) yield return sample;
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
