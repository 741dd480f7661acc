using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>
/// Decoded segments by key. The writer keeps the small trailing segments it committed itself: the binary-counter
/// tail is read back, decoded and folded on nearly every append of a busy GPU, and that read-and-decode was a tenth
/// of the embedded pipeline's CPU (docs/performance.md). The reader keeps the segments queries decoded: a dashboard
/// polling a GPU's window, or anyone reading it twice, would otherwise decode the same 10,000 samples each time.
/// <para>Always correct, whoever else writes: a segment key is fresh for every write and its value never changes,
/// so cached samples are exactly what the store holds under that key for as long as any manifest names it. Callers
/// must not change a cached array. Bounded by a sample count: when full, the entries added longest ago make room
/// (segments a writer has since replaced are never asked for again, so they age out).</para>
/// <para>With a <paramref name="minimumAge"/>, an entry younger than that is never evicted: when the cache is full of
/// young entries a new segment is served but not kept. Without it, queries over more windows than the cache holds
/// (say 247 GPUs read at random against room for 200) evicted and decoded a whole window on every seventh request,
/// and each evicted window died old: that turnover drove the gateway's collections of the older generations (30 gen-1
/// and 11 gen-2 over ~4,000 requests, with its slowest requests at 10-40 ms; docs/performance.md). The rule bounds turnover to one cache-full per minimum age.</para>
/// </summary>
internal sealed class SegmentCache(int capacitySamples, TimeSpan minimumAge = default, TimeProvider? clock = null)
{
    /// <summary>About 40 MB of <see cref="MetricSample"/> values: the tails of ~1,000 busy GPUs.</summary>
    public const int DefaultCapacitySamples = 1 << 20;

    private readonly Dictionary<string, MetricSample[]> _segments = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, long AddedAt)> _added = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private int _samples;

    public int Samples
    {
        get { lock (_lock) return _samples; }
    }

    public bool TryGet(string key, out MetricSample[] samples)
    {
        lock (_lock) return _segments.TryGetValue(key, out samples!);
    }

    /// <summary>Keeps a copy of a segment under <paramref name="key"/> (the array itself when it is whole, so
    /// <paramref name="samples"/> may be a rented array's prefix: it is then copied). Returns what is kept under the
    /// key, or null when the cache has no room for it.</summary>
    public MetricSample[]? Add(string key, ArraySegment<MetricSample> samples)
    {
        if (samples.Count > capacitySamples) return null;
        lock (_lock)
        {
            if (_segments.TryGetValue(key, out var known)) return known;
            var now = _clock.GetUtcNow().UtcTicks;
            while (_samples + samples.Count > capacitySamples && _added.TryPeek(out var oldest))
            {
                if (_segments.ContainsKey(oldest.Key) && now - oldest.AddedAt < minimumAge.Ticks) return null;
                _added.Dequeue();
                if (_segments.Remove(oldest.Key, out var evicted)) _samples -= evicted.Length;
            }
            // Pieces are cut from arrays nothing writes to after the plan is built; a whole array is kept as is.
            var kept = samples.Offset == 0 && samples.Count == samples.Array!.Length ? samples.Array : samples.ToArray();
            _segments[key] = kept;
            _samples += samples.Count;
            _added.Enqueue((key, now));
            // Keys removed by Remove stay queued until their turn; drop them once they outnumber the live ones.
            if (_added.Count > 2 * _segments.Count + 1024)
            {
                var live = _added.Where(entry => _segments.ContainsKey(entry.Key)).ToList();
                _added.Clear();
                foreach (var alive in live) _added.Enqueue(alive);
            }
            return kept;
        }
    }

    public void Remove(string key)
    {
        lock (_lock)
        {
            if (_segments.Remove(key, out var removed)) _samples -= removed.Length;
        }
    }
}
