using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>
/// The decoded samples of the small trailing segments a writer committed itself. The binary-counter tail is
/// read back, decoded and folded on nearly every append of a busy GPU, and that read-and-decode was a tenth of
/// the embedded pipeline's CPU (docs/performance.md); served from here it costs a dictionary lookup.
/// <para>Always correct, whoever else writes: a segment key is fresh for every write and its value never
/// changes, so cached samples are exactly what the store holds under that key for as long as any manifest
/// names it. Entries leave when the writer replaces or drops the segment. Bounded by a sample count: when
/// full, new segments are simply not cached and are read from the store as before.</para>
/// </summary>
internal sealed class SegmentCache(int capacitySamples)
{
    /// <summary>About 40 MB of <see cref="MetricSample"/> values: the tails of ~1,000 busy GPUs.</summary>
    public const int DefaultCapacitySamples = 1 << 20;

    private readonly Dictionary<string, MetricSample[]> _segments = new(StringComparer.Ordinal);
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

    /// <summary>Keeps a copy of a segment just committed under <paramref name="key"/>.</summary>
    public void Add(string key, ArraySegment<MetricSample> samples)
    {
        lock (_lock)
        {
            if (_samples + samples.Count > capacitySamples || _segments.ContainsKey(key)) return;
            // Pieces are cut from arrays nothing writes to after the plan is built; a whole array is kept as is.
            _segments[key] = samples.Offset == 0 && samples.Count == samples.Array!.Length ? samples.Array : samples.ToArray();
            _samples += samples.Count;
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
