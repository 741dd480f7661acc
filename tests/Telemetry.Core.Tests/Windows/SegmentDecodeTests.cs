using System.Text;
using Telemetry.Core.Model;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Windows;

/// <summary>A segment decoded over a time range (and past evicted samples) holds exactly the samples the
/// whole decode holds there, whatever order the document's columns come in.</summary>
public sealed class SegmentDecodeTests
{
    private static readonly DateTime T0 = new(2025, 7, 18, 13, 42, 33, DateTimeKind.Utc);

    // Ties on time, null and repeated source times, a non-ASCII name: what the deltas and columns must survive.
    private static readonly MetricSample[] Samples =
    [
        .. Enumerable.Range(0, 40).Select(i => new MetricSample(
            T0.AddTicks(i / 2 * 10), i % 3 == 0 ? "température" : $"m{i % 2}", i * 0.5,
            i % 4 == 1 ? null : T0.AddSeconds(-(40 - i) / 5))),
    ];

    public static TheoryData<int, long, long> Ranges => new()
    {
        { 0, long.MinValue, long.MaxValue },
        { 7, long.MinValue, long.MaxValue },
        { 0, T0.AddTicks(50).Ticks, T0.AddTicks(120).Ticks },
        { 13, T0.AddTicks(50).Ticks, T0.AddTicks(120).Ticks },
        { 0, T0.AddTicks(55).Ticks, T0.AddTicks(55).Ticks },
        { 0, T0.AddTicks(1000).Ticks, long.MaxValue },
        { 0, long.MinValue, T0.AddTicks(-1).Ticks },
        { 40, long.MinValue, long.MaxValue },
    };

    [Theory]
    [MemberData(nameof(Ranges))]
    public void A_range_decodes_what_filtering_the_whole_segment_keeps(int skip, long from, long to)
    {
        var expected = Samples.Skip(skip).Where(s => s.Timestamp.Ticks >= from && s.Timestamp.Ticks <= to).ToArray();
        var encoded = Segments.LegacySegment.Encode(Samples); // the JSON format's decoder; SegmentFormatTests has the current one

        Assert.Equal(Samples, WindowCodec.DecodeSegment(encoded));
        Assert.Equal(expected, WindowCodec.DecodeSegment(encoded, skip, from, to));
        Assert.Equal(expected, WindowCodec.DecodeSegment(Reordered(encoded), skip, from, to));
    }

    [Fact]
    public void Columns_of_different_lengths_are_refused_even_outside_the_range()
    {
        var text = Encoding.UTF8.GetString(Segments.LegacySegment.Encode(Samples[..3]));
        var shortValues = Encoding.UTF8.GetBytes(text.Replace("\"v\":[0,0.5,1]", "\"v\":[0,0.5]"));
        Assert.Throws<InvalidDataException>(() => WindowCodec.DecodeSegment(shortValues, 0, long.MinValue, T0.Ticks));
    }

    /// <summary>The same document with its columns in reverse order (times last).</summary>
    private static byte[] Reordered(byte[] encoded)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(encoded)!.AsObject();
        var reversed = new System.Text.Json.Nodes.JsonObject();
        foreach (var (name, value) in node.Reverse().ToList())
        {
            node.Remove(name);
            reversed[name] = value;
        }
        return Encoding.UTF8.GetBytes(reversed.ToJsonString());
    }
}

public sealed class SampleRunsTests
{
    [Fact]
    public void Runs_read_as_one_list_and_lose_their_last_sample_across_a_run_boundary()
    {
        var samples = Enumerable.Range(0, 5).Select(i => new MetricSample(DateTime.UnixEpoch.AddTicks(i), "m", i, null)).ToArray();
        var runs = new SampleRuns();
        runs.Add(new ArraySegment<MetricSample>(samples, 0, 3));
        runs.Add(new ArraySegment<MetricSample>(samples, 3, 0));
        runs.Add(new ArraySegment<MetricSample>(samples, 3, 1));

        Assert.Equal(samples[..4], runs);
        Assert.Equal(samples[3], runs[3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => runs[4]);
        runs.RemoveLast();
        Assert.Equal(samples[..3], runs);
        runs.RemoveLast();
        Assert.Equal(samples[..2], runs);
        Assert.Equal(samples[1], runs[runs.Count - 1]);
    }
}
