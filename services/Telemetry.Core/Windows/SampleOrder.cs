using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>The one order of samples within a GPU: by timestamp, then metric name. Two samples equal in
/// this order are the same sample delivered twice.</summary>
internal sealed class SampleOrder : IComparer<MetricSample>
{
    public static readonly SampleOrder Instance = new();

    public int Compare(MetricSample x, MetricSample y)
    {
        var byTime = x.Timestamp.Ticks.CompareTo(y.Timestamp.Ticks);
        return byTime != 0 ? byTime : string.CompareOrdinal(x.MetricName, y.MetricName);
    }

    /// <summary>Sorts and moves repeats out: the first (returned) count of samples are then sorted and distinct.</summary>
    public static int SortDistinct(Span<MetricSample> samples)
    {
        samples.Sort(Instance);
        var write = 0;
        for (var read = 0; read < samples.Length; read++)
        {
            if (write > 0 && Instance.Compare(samples[write - 1], samples[read]) == 0) continue;
            samples[write++] = samples[read];
        }
        return write;
    }

    /// <summary>Merges two sorted distinct runs; samples of <paramref name="incoming"/> already present in
    /// <paramref name="existing"/> are counted as duplicates and the stored copy is kept.</summary>
    public static List<MetricSample> Merge(IReadOnlyList<MetricSample> existing, IReadOnlyList<MetricSample> incoming, out int duplicates)
    {
        var merged = new List<MetricSample>(existing.Count + incoming.Count);
        int i = 0, j = 0;
        duplicates = 0;
        while (i < existing.Count && j < incoming.Count)
        {
            var order = Instance.Compare(existing[i], incoming[j]);
            if (order < 0) merged.Add(existing[i++]);
            else if (order > 0) merged.Add(incoming[j++]);
            else
            {
                merged.Add(existing[i++]);
                j++;
                duplicates++;
            }
        }
        while (i < existing.Count) merged.Add(existing[i++]);
        while (j < incoming.Count) merged.Add(incoming[j++]);
        return merged;
    }

    /// <summary>Cuts a sorted run into pieces of at most <paramref name="capacity"/> samples, never between
    /// two samples of the same instant, so segment time ranges never overlap.</summary>
    public static List<ArraySegment<MetricSample>> Split(MetricSample[] samples, int capacity)
    {
        var pieces = new List<ArraySegment<MetricSample>>();
        var start = 0;
        while (start < samples.Length)
        {
            var end = Math.Min(start + capacity, samples.Length);
            while (end < samples.Length && end > start + 1 && samples[end].Timestamp == samples[end - 1].Timestamp) end--;
            if (end == start + 1 && end < samples.Length && samples[end].Timestamp == samples[start].Timestamp)
            {
                // One instant larger than a segment: keep it whole rather than overlap ranges.
                while (end < samples.Length && samples[end].Timestamp == samples[start].Timestamp) end++;
            }
            pieces.Add(new ArraySegment<MetricSample>(samples, start, end - start));
            start = end;
        }
        return pieces;
    }
}
