using Telemetry.Core.Model;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Windows;

/// <summary>
/// What one append does to one GPU's window, worked out in two steps so a whole batch costs one bulk read
/// of manifests, at most one bulk read of segments and one write: <see cref="Create"/> decides from the
/// manifest which segments must be read; <see cref="Build"/> merges, evicts and produces the writes.
/// <para>Invariant kept: segments are sorted, their time ranges disjoint, and the window is exactly the
/// <c>MaxEntries</c> greatest samples (by time, then metric) ever offered, whatever the arrival order.</para>
/// </summary>
internal sealed class WindowPlan
{
    private readonly WindowOptions _options;
    private readonly WindowManifest _manifest;
    private MetricSample[] _late;            // at or before the newest stored instant: may repeat stored samples
    private readonly ArraySegment<MetricSample> _tail; // strictly newer than anything stored (a view of the caller's array)
    private readonly int _runStart, _runEnd; // segments [start, end] overlapping the late samples; empty when end < start
    private readonly int _mergeFrom;         // first trailing segment folded into the tail segment
    private readonly bool _wasFull;          // the window held MaxEntries samples before this append

    public GpuIdentity Gpu { get; }
    public StoredItem? ManifestRead { get; }
    public bool IsNewGpu => ManifestRead is null;
    public bool IdentityChanged { get; }
    public IReadOnlyList<string> SegmentKeysToRead { get; }
    /// <summary>Samples in the segments to read, to size the reads.</summary>
    public int SamplesToRead { get; private set; }

    // Results of Build.
    public int Added { get; private set; }
    public int Duplicates { get; private set; }
    public int Evicted { get; private set; }
    public bool Changed => Added > 0;
    /// <summary>Samples the window holds once this plan's write commits.</summary>
    public int RetainedAfter => _manifest.Retained;
    /// <summary>The segments this plan writes, by key, with their samples (for the writer's <see cref="SegmentCache"/>).</summary>
    public Dictionary<string, ArraySegment<MetricSample>> NewSegments { get; } = new(StringComparer.Ordinal);
    /// <summary>The new segments' writes, then the manifest's (the commit point), last.</summary>
    public List<StateOperation> Writes { get; } = [];
    public StateOperation ManifestWrite => Writes[^1];
    public IEnumerable<StateOperation> SegmentWrites => Writes.Take(Writes.Count - 1);
    public List<string> ReplacedSegmentKeys { get; } = [];
    private readonly List<string> _replacedIds = [];
    private readonly List<string> _inheritedGarbage = [];

    /// <summary>What to delete once this plan's manifest committed: the segments it replaced, and those the previous
    /// commit replaced (its writer may have died before deleting them; deleting twice is harmless).</summary>
    public IEnumerable<string> KeysToDeleteAfterCommit => ReplacedSegmentKeys.Concat(_inheritedGarbage);

    private WindowPlan(WindowOptions options, GpuIdentity gpu, StoredItem? manifestRead, WindowManifest manifest,
        MetricSample[] late, ArraySegment<MetricSample> tail, int tooOld, int runStart, int runEnd, int mergeFrom)
    {
        _options = options;
        Gpu = gpu;
        ManifestRead = manifestRead;
        _manifest = manifest;
        _late = late;
        _tail = tail;
        Evicted = tooOld;
        _runStart = runStart;
        _runEnd = runEnd;
        _mergeFrom = mergeFrom;
        _wasFull = manifest.Retained >= options.MaxEntries;
        IdentityChanged = manifestRead is not null && manifest.Gpu != gpu;
        var keys = new List<string>();
        for (var i = runStart; i <= runEnd; i++) Read(manifest.Segments[i]);
        for (var i = mergeFrom; i < manifest.Segments.Count; i++) Read(manifest.Segments[i]);
        SegmentKeysToRead = keys;

        void Read(SegmentRef segment)
        {
            keys.Add(WindowKeys.Segment(gpu.Uuid, segment.Id));
            SamplesToRead += segment.Count;
        }
    }

    /// <param name="samples">The GPU's new samples, sorted and distinct. The plan keeps a view of them (the tail is not
    /// copied: in steady state it is all of them), so they must not change afterwards.</param>
    public static WindowPlan Create(WindowOptions options, GpuIdentity gpu, ArraySegment<MetricSample> samples, StoredItem? manifestRead)
    {
        var manifest = manifestRead is null ? new WindowManifest { Gpu = gpu } : WindowCodec.DecodeManifest(manifestRead.Value);
        var segments = manifest.Segments;
        var first = 0;
        if (segments.Count > 0 && manifest.Retained >= options.MaxEntries)
        {
            // A full window keeps only samples newer than its oldest: anything before the first segment is out.
            while (first < samples.Count && samples[first].Timestamp.Ticks < segments[0].From) first++;
        }
        var newest = segments.Count > 0 ? segments[^1].To : long.MinValue;
        var split = first;
        while (split < samples.Count && samples[split].Timestamp.Ticks <= newest) split++;
        var late = samples.AsSpan(first, split - first).ToArray();
        var tail = samples.Slice(split);

        int runStart = 0, runEnd = -1;
        if (late.Length > 0)
        {
            long lo = late[0].Timestamp.Ticks, hi = late[^1].Timestamp.Ticks;
            runStart = 0;
            while (runStart < segments.Count && segments[runStart].To < lo) runStart++;
            runEnd = segments.Count - 1;
            while (runEnd >= 0 && segments[runEnd].From > hi) runEnd--;

            // Late samples falling between segments (or before the first) would otherwise get a segment of
            // their own each time, and newest-first arrivals would leave one segment per sample. Fold in
            // neighbours while the rewrite still fits one segment.
            var size = late.Length;
            for (var i = runStart; i <= runEnd; i++) size += segments[i].Count - segments[i].Skip;
            while (runStart > 0 && size + segments[runStart - 1].Count - segments[runStart - 1].Skip <= options.SegmentCapacity)
            {
                runStart--;
                size += segments[runStart].Count - segments[runStart].Skip;
            }
            while (runEnd < segments.Count - 1 && size + segments[runEnd + 1].Count - segments[runEnd + 1].Skip <= options.SegmentCapacity)
            {
                runEnd++;
                size += segments[runEnd].Count - segments[runEnd].Skip;
            }
        }

        // Fold the new tail into the trailing segments while they are no bigger than what is being written:
        // a binary counter, so each sample is rewritten about log2(capacity / batch) times, never per append.
        var mergeFrom = segments.Count;
        if (late.Length == 0 && tail.Count > 0 && tail.Count <= options.SegmentCapacity)
        {
            var size = tail.Count;
            while (mergeFrom > 0)
            {
                var candidate = segments[mergeFrom - 1];
                var retained = candidate.Count - candidate.Skip;
                if (retained > size || retained + size > options.SegmentCapacity) break;
                size += retained;
                mergeFrom--;
            }
        }
        return new WindowPlan(options, gpu, manifestRead, manifest, late, tail, first, runStart, runEnd, mergeFrom);
    }

    /// <summary>Builds the writes from the segments read (or found decoded in <paramref name="segmentsCached"/>).
    /// False when a segment the manifest names is gone: another writer replaced it, so the manifest read is
    /// stale and the GPU must be planned again.</summary>
    public bool Build(IReadOnlyDictionary<string, StoredItem> segmentsRead, IReadOnlyDictionary<string, MetricSample[]> segmentsCached,
        Func<WindowManifest, string> newSegmentId)
    {
        var segments = _manifest.Segments;
        var result = new List<SegmentRef>(segments.Count + 2);
        for (var i = 0; i < Math.Min(_runStart, _mergeFrom); i++) result.Add(segments[i]);

        if (_late.Length > 0)
        {
            var merged = _late.ToList();
            if (_runEnd >= _runStart)
            {
                if (!TryLoad(segmentsRead, segmentsCached, _runStart, _runEnd, room: 0, out var existing, out _)) return false;
                if (_wasFull && _runStart == 0 && existing.Length > 0)
                {
                    // Create only knows the head segment's first time, not where its skipped (evicted) part ends:
                    // late samples older than the oldest kept one would be stored only to be evicted again
                    // (a redelivery rewriting the head segment and counting as stored). Refuse them here.
                    var older = 0;
                    while (older < _late.Length && SampleOrder.Instance.Compare(_late[older], existing[0]) < 0) older++;
                    Evicted += older;
                    _late = _late[older..];
                }
                merged = SampleOrder.Merge(existing, _late, out var duplicates);
                Duplicates = duplicates;
            }
            Added += _late.Length - Duplicates;
            if (Added > 0)
            {
                for (var i = _runStart; i <= _runEnd; i++) Replace(segments[i]);
                result.AddRange(WriteSegments([.. merged], newSegmentId));
            }
            else
            {
                for (var i = _runStart; i <= _runEnd; i++) result.Add(segments[i]);
            }
            for (var i = Math.Max(_runStart, _runEnd + 1); i < segments.Count; i++) result.Add(segments[i]);
        }
        else
        {
            for (var i = _runStart; i < _mergeFrom; i++) result.Add(segments[i]);
        }

        if (_tail.Count > 0)
        {
            var content = _tail.Offset == 0 && _tail.Count == _tail.Array!.Length ? _tail.Array : null;
            if (_mergeFrom < segments.Count)
            {
                if (!TryLoad(segmentsRead, segmentsCached, _mergeFrom, segments.Count - 1, room: _tail.Count, out content, out var loaded)) return false;
                _tail.CopyTo(content, loaded);
                for (var i = _mergeFrom; i < segments.Count; i++) Replace(segments[i]);
            }
            content ??= _tail.ToArray();
            Added += _tail.Count;
            result.AddRange(WriteSegments(content, newSegmentId));
        }
        if (!Changed)
        {
            Writes.Clear();
            NewSegments.Clear();
            ReplacedSegmentKeys.Clear();
            _replacedIds.Clear();
            return true;
        }

        Evict(result);
        _manifest.Segments = result;
        _manifest.Gpu = Gpu;
        var newestAdded = Math.Max(_late.Length > 0 ? _late[^1].Timestamp.Ticks : 0, _tail.Count > 0 ? _tail[_tail.Count - 1].Timestamp.Ticks : 0);
        var oldestAdded = _late.Length > 0 ? _late[0].Timestamp.Ticks : _tail[0].Timestamp.Ticks;
        _manifest.LastSeen = Math.Max(_manifest.LastSeen, newestAdded);
        _manifest.FirstSeen = _manifest.FirstSeen == 0 ? oldestAdded : Math.Min(_manifest.FirstSeen, oldestAdded);
        _inheritedGarbage.Clear();
        foreach (var id in _manifest.Garbage ?? []) _inheritedGarbage.Add(WindowKeys.Segment(Gpu.Uuid, id));
        _manifest.Garbage = _replacedIds.Count > 0 ? [.. _replacedIds] : null;
        _manifest.Latest = LatestValues.Update(_manifest.Latest, _late, _tail);
        Writes.Add(new UpsertOperation(WindowKeys.Manifest(Gpu.Uuid), WindowCodec.Encode(_manifest), WriteCondition.For(ManifestRead)));
        return true;
    }

    /// <summary>True when <paramref name="current"/> still names a segment this plan wrote, i.e. this plan's
    /// manifest committed. If a later writer has already folded those segments away the answer is false and
    /// the samples are planned again, which is harmless: they are then found stored and count as repeats.</summary>
    public bool IsCommittedIn(StoredItem? current)
    {
        if (current is null || NewSegments.Count == 0) return false;
        foreach (var segment in WindowCodec.DecodeManifest(current.Value).Segments)
        {
            if (NewSegments.ContainsKey(WindowKeys.Segment(Gpu.Uuid, segment.Id))) return true;
        }
        return false;
    }

    private void Evict(List<SegmentRef> segments)
    {
        var total = 0;
        foreach (var segment in segments) total += segment.Count - segment.Skip;
        while (total > _options.MaxEntries)
        {
            var head = segments[0];
            var retained = head.Count - head.Skip;
            var excess = total - _options.MaxEntries;
            if (retained <= excess)
            {
                segments.RemoveAt(0);
                DropSegment(head);
                total -= retained;
                Evicted += retained;
            }
            else
            {
                segments[0] = head with { Skip = head.Skip + excess };
                total -= excess;
                Evicted += excess;
            }
        }
    }

    private void DropSegment(SegmentRef segment)
    {
        var key = WindowKeys.Segment(Gpu.Uuid, segment.Id);
        if (NewSegments.Remove(key))
        {
            Writes.RemoveAll(write => write.Key == key); // written in this plan: simply never write it
        }
        else
        {
            ReplacedSegmentKeys.Add(key);
            _replacedIds.Add(segment.Id);
        }
    }

    private void Replace(SegmentRef segment)
    {
        ReplacedSegmentKeys.Add(WindowKeys.Segment(Gpu.Uuid, segment.Id));
        _replacedIds.Add(segment.Id);
    }

    private IEnumerable<SegmentRef> WriteSegments(MetricSample[] samples, Func<WindowManifest, string> newSegmentId)
    {
        foreach (var piece in SampleOrder.Split(samples, _options.SegmentCapacity))
        {
            var id = newSegmentId(_manifest);
            var key = WindowKeys.Segment(Gpu.Uuid, id);
            NewSegments.Add(key, piece);
            Writes.Add(new UpsertOperation(key, WindowCodec.Encode(piece.AsSpan()), WriteCondition.Any));
            yield return new SegmentRef(id, piece.Count, piece[0].Timestamp.Ticks, piece[^1].Timestamp.Ticks);
        }
    }

    /// <summary>The retained samples of segments [<paramref name="from"/>, <paramref name="to"/>] in one array
    /// of exactly the right size plus <paramref name="room"/> free slots at the end (the tail fold appends
    /// there): every sample is copied once.</summary>
    private bool TryLoad(IReadOnlyDictionary<string, StoredItem> read, IReadOnlyDictionary<string, MetricSample[]> cached,
        int from, int to, int room, out MetricSample[] samples, out int loaded)
    {
        samples = [];
        loaded = 0;
        var parts = new ArraySegment<MetricSample>[to - from + 1];
        var total = 0;
        for (var i = from; i <= to; i++)
        {
            var segment = _manifest.Segments[i];
            var key = WindowKeys.Segment(Gpu.Uuid, segment.Id);
            if (!cached.TryGetValue(key, out var decoded))
            {
                if (!read.TryGetValue(key, out var item)) return false;
                decoded = WindowCodec.DecodeSegment(item.Value);
            }
            parts[i - from] = new ArraySegment<MetricSample>(decoded, segment.Skip, decoded.Length - segment.Skip);
            total += parts[i - from].Count;
        }
        samples = new MetricSample[total + room];
        foreach (var part in parts)
        {
            part.AsSpan().CopyTo(samples.AsSpan(loaded));
            loaded += part.Count;
        }
        return true;
    }
}
