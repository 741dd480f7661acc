using System.Buffers;
using System.Runtime.InteropServices;
using Telemetry.Core.Model;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Queries;

/// <summary>A downsampled read of one GPU's window: <see cref="Points"/> buckets of equal duration over
/// [<see cref="Start"/>, <see cref="End"/>] (both inclusive; when absent, the oldest and newest sample in the
/// window).</summary>
public sealed record SeriesQuery(DateTime? Start = null, DateTime? End = null, IReadOnlySet<string>? Metrics = null, int Points = 500);

/// <summary>One bucket: <see cref="Timestamp"/> is its start. <see cref="Last"/> is the value of its newest sample.</summary>
public readonly record struct SeriesPoint(DateTime Timestamp, double Min, double Max, double Avg, double Last, int Count);

public sealed record MetricSeries(string MetricName, IReadOnlyList<SeriesPoint> Points);

/// <summary><see cref="Start"/> and <see cref="End"/> are the range the buckets cover; null when neither was
/// given and the range holds no sample. <see cref="BucketTicks"/> is one bucket's duration.
/// <para>The points <see cref="SeriesBuilder"/> makes live in pooled arrays: disposing the result returns them (its
/// points must not be read after that); a result never disposed leaves them to the collector.</para></summary>
public sealed record SeriesResult(DateTime? Start, DateTime? End, long BucketTicks, IReadOnlyList<MetricSeries> Series) : IDisposable
{
    private SeriesPoint[][]? _rented;

    internal SeriesResult Renting(SeriesPoint[][] arrays)
    {
        _rented = arrays;
        return this;
    }

    public void Dispose()
    {
        foreach (var array in Interlocked.Exchange(ref _rented, null) ?? []) ArrayPool<SeriesPoint>.Shared.Return(array);
    }
}

/// <summary>
/// Buckets time-ordered samples. The range is cut into <c>points</c> buckets of equal whole-tick width
/// (the last may end past <c>end</c>; no sample lies there), bucket i covering
/// [start + i·width, start + (i+1)·width). Every sample in the range falls in exactly one bucket, so a metric's
/// counts add up to its samples in the range and its min/max over buckets are the raw min/max. Empty buckets
/// are left out. With <c>metrics</c>, samples of other metrics are skipped.
/// </summary>
public static class SeriesBuilder
{
    public static SeriesResult Build(IReadOnlyList<MetricSample> ordered, DateTime? start, DateTime? end, int points,
        IReadOnlySet<string>? metrics = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        if (ordered.Count == 0 && (start is null || end is null))
        {
            return new SeriesResult(start, end, 0, []);
        }
        var from = start ?? ordered[0].Timestamp;
        var to = end ?? ordered[^1].Timestamp;
        // Ticks, inclusive at both ends: a range of one instant is one tick wide.
        var span = (decimal)to.Ticks - from.Ticks + 1;
        var width = (long)Math.Max(1, Math.Ceiling(span / points));

        // A metric has at most one bucket per point and one per sample.
        var metricsSeen = new MetricSlots(MetricFilter.For(metrics), Math.Max(1, Math.Min(points, ordered.Count)));
        try
        {
            // The bucket being filled and where it ends: samples come in time order, so a bucket's samples arrive
            // together and the division finding a bucket is paid once per bucket, not once per sample (a tenth of the
            // work, by profile, when each sample paid it).
            long bucket = -1, bucketFrom = long.MaxValue, bucketTo = long.MinValue;
            foreach (var run in SampleRuns.Of(ordered))
            {
                foreach (ref readonly var sample in run.AsSpan())
                {
                    var ticks = sample.Timestamp.Ticks;
                    if (ticks < from.Ticks || ticks > to.Ticks) continue;
                    if (ticks < bucketFrom || ticks >= bucketTo)
                    {
                        metricsSeen.Close(from.Ticks + bucket * width);
                        bucket = (ticks - from.Ticks) / width;
                        bucketFrom = from.Ticks + bucket * width;
                        bucketTo = bucketFrom + width;
                    }
                    metricsSeen.Add(sample.MetricName, sample.Value);
                }
            }
            metricsSeen.Close(from.Ticks + bucket * width);
            return metricsSeen.ToResult(from, to, width);
        }
        finally
        {
            metricsSeen.Return();
        }
    }

    /// <summary>
    /// The metrics met so far, each with the bucket being filled and the points closed before it. A sample's metric is
    /// found by reference: the decoder hands out one string instance per name (MetricNames), and a window lists its
    /// metrics in the same order scrape after scrape, so the slot after the previous sample's is tried first and
    /// nearly always holds it; another instance of a known name is found by value.
    /// </summary>
    private sealed class MetricSlots(MetricFilter? filter, int capacity)
    {
        private readonly List<Slot> _slots = [];
        private readonly Dictionary<string, Slot> _byValue = new(StringComparer.Ordinal);
        private readonly List<Slot> _open = [];
        private int _previous = -1;

        public void Add(string name, double value)
        {
            var slots = CollectionsMarshal.AsSpan(_slots);
            var next = _previous + 1;
            Slot slot;
            if ((uint)next < (uint)slots.Length && ReferenceEquals(slots[next].Name, name)) slot = slots[next];
            else slot = Find(name, slots);
            _previous = slot.Position;
            if (!slot.Wanted) return;
            if (slot.Count == 0) _open.Add(slot);
            slot.Add(value);
        }

        /// <summary>Ends the bucket starting at <paramref name="bucketStart"/>: each metric with samples in it gets a point.</summary>
        public void Close(long bucketStart)
        {
            foreach (var slot in CollectionsMarshal.AsSpan(_open)) slot.Close(bucketStart);
            _open.Clear();
        }

        public SeriesResult ToResult(DateTime from, DateTime to, long width)
        {
            var series = new List<MetricSeries>(_slots.Count);
            var rented = new List<SeriesPoint[]>(_slots.Count);
            foreach (var slot in _slots.Where(slot => slot.Wanted).OrderBy(slot => slot.Name, StringComparer.Ordinal))
            {
                // The result takes the slot's points: they go back to the pool when it is disposed.
                rented.Add(slot.TakePoints(out var points));
                series.Add(new MetricSeries(slot.Name, points));
            }
            return new SeriesResult(from, to, width, series).Renting([.. rented]);
        }

        public void Return()
        {
            foreach (var slot in _slots) slot.Return();
        }

        private Slot Find(string name, ReadOnlySpan<Slot> slots)
        {
            foreach (var known in slots)
            {
                if (ReferenceEquals(known.Name, name)) return known;
            }
            if (!_byValue.TryGetValue(name, out var found))
            {
                _byValue[name] = found = new Slot(name, _slots.Count, filter?.Wants(name) ?? true, capacity);
                _slots.Add(found);
            }
            return found;
        }
    }

    /// <summary>One metric: the bucket being filled, and the points before it in a pooled array. Growing a list per
    /// metric made ~0.5 MB of garbage per whole-window request, a gen-0 collection every few requests; as plain
    /// arrays the points were ~170 kB of a whole window's answer, and the gen-0 collections they caused (8 in 480
    /// requests against the raw query's 1) were the slowest requests, so the p99 (docs/performance.md, "seventh
    /// pass"). Metrics not asked for get a slot too (so they are recognised) but nothing is kept for them.</summary>
    private sealed class Slot(string name, int position, bool wanted, int capacity)
    {
        private SeriesPoint[]? _points = wanted ? ArrayPool<SeriesPoint>.Shared.Rent(capacity) : null;
        private int _closed;
        private double _min = double.PositiveInfinity, _max = double.NegativeInfinity, _sum, _last;

        public string Name { get; } = name;
        public int Position { get; } = position;
        public bool Wanted { get; } = wanted;
        public int Count { get; private set; }

        public void Add(double value)
        {
            // Stored values are finite (the collector refuses others), so plain comparisons suffice.
            if (value < _min) _min = value;
            if (value > _max) _max = value;
            _sum += value;
            _last = value;
            Count++;
        }

        public void Close(long bucketStart)
        {
            _points![_closed++] = new SeriesPoint(new DateTime(bucketStart, DateTimeKind.Utc), _min, _max, _sum / Count, _last, Count);
            (_min, _max, _sum, Count) = (double.PositiveInfinity, double.NegativeInfinity, 0, 0);
        }

        /// <summary>Hands the points over; the slot no longer returns them.</summary>
        public SeriesPoint[] TakePoints(out ArraySegment<SeriesPoint> points)
        {
            var array = _points!;
            points = new ArraySegment<SeriesPoint>(array, 0, _closed);
            _points = null;
            return array;
        }

        public void Return()
        {
            if (_points is { } array) ArrayPool<SeriesPoint>.Shared.Return(array);
            _points = null;
        }
    }
}
