using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>Keeps a manifest's <see cref="WindowManifest.Latest"/>: per metric, the value of its newest sample.</summary>
internal static class LatestValues
{
    /// <summary>Metrics tracked per GPU. A DCGM dump has about ten and an nvidia-smi log a few dozen; the cap
    /// keeps a manifest small whatever a file throws at it (metrics beyond it are simply not tracked).</summary>
    public const int MaxMetrics = 64;

    /// <summary>Folds newly stored samples in. A sample replaces the known value only when strictly newer, so a
    /// repeated delivery (same time and metric) never changes it, and a late sample older than the known one
    /// does not either.</summary>
    public static Dictionary<string, LatestValue> Update(Dictionary<string, LatestValue>? latest,
        ReadOnlySpan<MetricSample> late, ReadOnlySpan<MetricSample> tail)
    {
        latest ??= new Dictionary<string, LatestValue>(StringComparer.Ordinal);
        Fold(latest, late);
        Fold(latest, tail);
        return latest;
    }

    private static void Fold(Dictionary<string, LatestValue> latest, ReadOnlySpan<MetricSample> samples)
    {
        // Samples are in time order: walking from the newest, the first one met per metric is the one to keep.
        for (var i = samples.Length - 1; i >= 0; i--)
        {
            var sample = samples[i];
            var ticks = sample.Timestamp.Ticks;
            if (latest.TryGetValue(sample.MetricName, out var known))
            {
                if (ticks > known.Time) latest[sample.MetricName] = new LatestValue(ticks, sample.Value);
            }
            else if (latest.Count < MaxMetrics)
            {
                latest[sample.MetricName] = new LatestValue(ticks, sample.Value);
            }
        }
    }

    /// <summary>As the API shows them: ordered by metric name.</summary>
    public static IReadOnlyList<Queries.LatestSample> ToSamples(Dictionary<string, LatestValue>? latest)
    {
        if (latest is null || latest.Count == 0) return [];
        var list = new List<Queries.LatestSample>(latest.Count);
        foreach (var (metric, value) in latest) list.Add(new Queries.LatestSample(metric, new DateTime(value.Time, DateTimeKind.Utc), value.Value));
        list.Sort(static (a, b) => string.CompareOrdinal(a.MetricName, b.MetricName));
        return list;
    }
}
