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
        var filter = MetricFilter.For(metrics);
        var buckets = new MetricBuckets(Math.Max(1, Math.Min(points, ordered.Count)));
        try
        {
            // The bucket of the previous sample and where it ends: samples come in time order, so most fall in the
            // bucket before them and skip the division (a tenth of the work, by profile, when each sample paid it).
            long bucket = -1, bucketFrom = long.MaxValue, bucketTo = long.MinValue;
            foreach (var run in SampleRuns.Of(ordered))
            {
                foreach (ref readonly var sample in run.AsSpan())
                {
                    var ticks = sample.Timestamp.Ticks;
                    if (ticks < from.Ticks || ticks > to.Ticks || filter?.Wants(sample.MetricName) == false) continue;
                    if (ticks < bucketFrom || ticks >= bucketTo)
                    {
                        bucket = (ticks - from.Ticks) / width;
                        bucketFrom = from.Ticks + bucket * width;
                        bucketTo = bucketFrom + width;
                    }
                    buckets.Of(sample.MetricName).Add(bucket, sample.Value);
                }
            }

            var series = new List<MetricSeries>(buckets.Count);
            var rented = new SeriesPoint[buckets.Count][];
            foreach (var metric in buckets.OrderBy(metric => metric.Name, StringComparer.Ordinal))
            {
                var metricPoints = metric.ToPoints(from.Ticks, width);
                rented[series.Count] = metricPoints.Array!;
                series.Add(new MetricSeries(metric.Name, metricPoints));
            }
            return new SeriesResult(from, to, width, series).Renting(rented);
        }
        finally
        {
            buckets.Return();
        }
    }

    /// <summary>Each metric's buckets. The decoder hands out one string instance per name (MetricNames), so a
    /// sample's metric is found by reference among a handful; another instance of a known name, by value.</summary>
    private sealed class MetricBuckets(int capacity) : List<Buckets>
    {
        private readonly Dictionary<string, Buckets> _byValue = new(StringComparer.Ordinal);

        public Buckets Of(string name)
        {
            foreach (var known in CollectionsMarshal.AsSpan(this))
            {
                if (ReferenceEquals(known.Name, name)) return known;
            }
            if (!_byValue.TryGetValue(name, out var found))
            {
                _byValue[name] = found = new Buckets(name, capacity);
                Add(found);
            }
            return found;
        }

        public void Return()
        {
            foreach (var buckets in this) buckets.Return();
        }
    }

    /// <summary>One metric's non-empty buckets in time order, in a pooled array: growing a list per metric made
    /// ~0.5 MB of garbage per whole-window request, a gen-0 collection every few requests. The points handed out are
    /// pooled too: as plain arrays they were ~170 kB of a whole window's answer, and the gen-0 collections they caused
    /// (8 in 480 requests against the raw query's 1) were the slowest requests, so the p99 (docs/performance.md,
    /// "seventh pass").</summary>
    private sealed class Buckets(string name, int capacity)
    {
        private Accumulator[] _accumulators = ArrayPool<Accumulator>.Shared.Rent(capacity);
        private int _count;

        public string Name { get; } = name;

        public void Add(long bucket, double value)
        {
            // Samples come in time order, so a metric's buckets are met in order: only the last one can grow.
            if (_count == 0 || _accumulators[_count - 1].Index != bucket) _accumulators[_count++] = new Accumulator(bucket);
            _accumulators[_count - 1].Add(value);
        }

        public ArraySegment<SeriesPoint> ToPoints(long from, long width)
        {
            var points = ArrayPool<SeriesPoint>.Shared.Rent(_count);
            for (var i = 0; i < _count; i++) points[i] = _accumulators[i].ToPoint(from, width);
            return new ArraySegment<SeriesPoint>(points, 0, _count);
        }

        public void Return()
        {
            ArrayPool<Accumulator>.Shared.Return(_accumulators);
            _accumulators = [];
        }
    }

    private struct Accumulator(long index)
    {
        private double _min = double.PositiveInfinity, _max = double.NegativeInfinity, _sum, _last;
        private int _count;

        public readonly long Index { get; } = index;

        public void Add(double value)
        {
            // Stored values are finite (the collector refuses others), so plain comparisons suffice.
            if (value < _min) _min = value;
            if (value > _max) _max = value;
            _sum += value;
            _last = value;
            _count++;
        }

        public readonly SeriesPoint ToPoint(long from, long width) =>
            new(new DateTime(from + Index * width, DateTimeKind.Utc), _min, _max, _sum / _count, _last, _count);
    }
}
