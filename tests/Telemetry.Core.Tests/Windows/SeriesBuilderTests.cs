using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Windows;

/// <summary><see cref="SeriesBuilder"/> against the definition it documents, computed the plain way: each sample in
/// [from, to] goes to bucket (ticks - from) / width, and a bucket's figures are those of its samples.</summary>
public sealed class SeriesBuilderTests
{
    private static readonly DateTime T0 = new(2026, 12, 5, 7, 0, 0, DateTimeKind.Utc);
    private static readonly string[] Metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK"];

    public static TheoryData<int, int, bool, string[]?> Cases => new()
    {
        { 1, 500, false, null }, { 2, 500, true, null }, { 3, 7, false, null }, { 4, 1, true, null }, { 5, 10_000, false, null },
        { 6, 333, true, null },
        // metric= asked: one metric; two and one no sample has (some samples carry their own instance of a name).
        { 7, 500, false, ["DCGM_FI_DEV_POWER_USAGE"] }, { 8, 333, true, ["DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_UTIL", "NOT_A_METRIC"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Buckets_match_a_plain_grouping_of_the_samples(int seed, int points, bool range, string[]? metrics)
    {
        var (result, check) = Build(seed, points, range, metrics);
        check(result);
    }

    [Fact]
    public void Points_given_back_twice_are_lent_once()
    {
        // A result's points live in pooled arrays. Were a second Dispose to return them again, the pool would lend the
        // same arrays to the next two results, and the later one would overwrite the earlier one's points.
        var (first, _) = Build(11, 500, range: false);
        first.Dispose();
        first.Dispose();
        var (second, checkSecond) = Build(12, 500, range: false);
        var (third, checkThird) = Build(13, 500, range: true);
        checkSecond(second);
        checkThird(third);
        second.Dispose();
        third.Dispose();
    }

    /// <summary>A result over 3,000 random samples (seeded) and the assertions that it matches the plain grouping.</summary>
    private static (SeriesResult Result, Action<SeriesResult> Check) Build(int seed, int points, bool range, string[]? metrics = null)
    {
        var random = new Random(seed);
        var samples = new List<MetricSample>();
        var ticks = T0.Ticks;
        for (var i = 0; i < 3_000; i++)
        {
            ticks += random.Next(4) == 0 ? 0 : random.Next(1, 50_000); // equal times happen: one scrape, many metrics
            var value = random.Next(3) == 0 ? Math.Round(random.NextDouble() * 300, 3) : random.Next(0, 100);
            // Another instance of the same name, as a deserialiser would make: found by value, not only by reference.
            var metric = random.Next(10) == 0 ? new string(Metrics[random.Next(Metrics.Length)]) : Metrics[random.Next(Metrics.Length)];
            samples.Add(new MetricSample(new DateTime(ticks, DateTimeKind.Utc), metric, value, null));
        }
        // Several runs, as the reader hands them over: bucket boundaries fall inside and between runs.
        var runs = new SampleRuns();
        for (var at = 0; at < samples.Count;)
        {
            var length = Math.Min(random.Next(1, 400), samples.Count - at);
            runs.Add(new ArraySegment<MetricSample>([.. samples.Skip(at).Take(length)]));
            at += length;
        }
        DateTime? start = range ? samples[500].Timestamp.AddTicks(1) : null;
        DateTime? end = range ? samples[2_500].Timestamp : null;

        var wanted = metrics?.ToHashSet(StringComparer.Ordinal);
        return (SeriesBuilder.Build(runs, start, end, points, wanted), result => Check(result, samples, start, end, points, wanted));
    }

    private static void Check(SeriesResult result, List<MetricSample> samples, DateTime? start, DateTime? end, int points, HashSet<string>? wanted)
    {
        var from = start ?? samples[0].Timestamp;
        var to = end ?? samples[^1].Timestamp;
        var width = Math.Max(1, (long)Math.Ceiling(((decimal)to.Ticks - from.Ticks + 1) / points));
        Assert.Equal(width, result.BucketTicks);
        var expected = samples
            .Where(sample => sample.Timestamp >= from && sample.Timestamp <= to && (wanted is null || wanted.Contains(sample.MetricName)))
            .GroupBy(sample => sample.MetricName)
            .OrderBy(metric => metric.Key, StringComparer.Ordinal)
            .Select(metric => new MetricSeries(metric.Key, [.. metric
                .GroupBy(sample => (sample.Timestamp.Ticks - from.Ticks) / width)
                .OrderBy(bucket => bucket.Key)
                .Select(bucket => new SeriesPoint(new DateTime(from.Ticks + bucket.Key * width, DateTimeKind.Utc),
                    bucket.Min(sample => sample.Value), bucket.Max(sample => sample.Value),
                    bucket.Sum(sample => sample.Value) / bucket.Count(), bucket.Last().Value, bucket.Count()))]))
            .ToList();
        Assert.Equal(expected.Select(metric => metric.MetricName), result.Series.Select(metric => metric.MetricName));
        if (wanted is not null) Assert.Equal(wanted.Count(name => name != "NOT_A_METRIC"), result.Series.Count);
        for (var m = 0; m < expected.Count; m++) Assert.Equal(expected[m].Points, result.Series[m].Points);
        Assert.All(result.Series, metric => Assert.True(metric.Points.Count <= points));
    }
}
