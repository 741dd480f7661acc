using System.Text;
using System.Text.Json;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Segments;

/// <summary>The stored segment format of issue 13 (<see cref="BinarySegment"/>): every sample comes back exactly, the
/// value stays a JSON string, a damaged value is refused with a clear error, and segments in the JSON format of
/// earlier versions are still read — also mixed with new ones in one window.</summary>
public sealed class SegmentFormatTests
{
    private static readonly DateTime T0 = new(2025, 7, 18, 13, 42, 33, DateTimeKind.Utc);

    /// <summary>Values the encoding treats differently (whole, fractional, huge, negative zero, non-finite), ties on
    /// time, times going back (deltas must be signed), null and repeated source times, non-ASCII and long names.</summary>
    public static MetricSample[] Awkward() =>
    [
        new(T0, "DCGM_FI_DEV_GPU_UTIL", 0, null),
        new(T0, "température", 100, T0.AddSeconds(-5)),
        new(T0.AddTicks(1), "m", -1, T0.AddSeconds(-5)),
        new(T0.AddTicks(1), "m", 0.1, null),
        new(T0.AddTicks(2), new string('x', 300), -0.0, T0.AddSeconds(-10)),
        new(T0.AddTicks(2), "m", double.NaN, DateTime.MinValue.ToUniversalTime()),
        new(T0.AddTicks(3), "m", double.PositiveInfinity, DateTime.MaxValue.ToUniversalTime()),
        new(T0.AddTicks(4), "m", double.NegativeInfinity, T0),
        new(T0.AddTicks(5), "m", (1L << 52) - 1, T0),
        new(T0.AddTicks(5), "m", 1L << 52, T0),
        new(T0.AddTicks(6), "m", -(double)((1L << 52) - 1), T0),
        new(T0.AddTicks(7), "m", 1e300, T0),
        new(T0.AddTicks(8), "m", double.Epsilon, T0),
        new(DateTime.MaxValue.ToUniversalTime(), "m", 123456.789, null),
    ];

    [Fact]
    public void Every_sample_round_trips_exactly()
    {
        var samples = Awkward();
        var decoded = WindowCodec.DecodeSegment(WindowCodec.Encode(samples));

        Assert.Equal(samples.Length, decoded.Length);
        for (var i = 0; i < samples.Length; i++)
        {
            Assert.Equal(samples[i].Timestamp, decoded[i].Timestamp);
            Assert.Equal(DateTimeKind.Utc, decoded[i].Timestamp.Kind);
            Assert.Equal(samples[i].MetricName, decoded[i].MetricName);
            // Bits, not equality: -0 must stay -0 and NaN must stay NaN.
            Assert.Equal(BitConverter.DoubleToInt64Bits(samples[i].Value), BitConverter.DoubleToInt64Bits(decoded[i].Value));
            Assert.Equal(samples[i].SourceTimestamp, decoded[i].SourceTimestamp);
        }
    }

    [Fact]
    public void A_large_segment_with_many_names_round_trips_and_ranges_match_filtering()
    {
        // More than 2,048 samples and 32 names take the other paths (heap scratch, a dictionary of names).
        var samples = Enumerable.Range(0, 5000).Select(i => new MetricSample(T0.AddTicks(i / 3 * 7), $"metric-{i % 40}", i % 7 == 0 ? i * 0.25 : i,
            i % 5 == 0 ? null : T0.AddSeconds(-i % 11))).ToArray();
        var encoded = WindowCodec.Encode(samples);

        Assert.Equal(samples, WindowCodec.DecodeSegment(encoded));
        var (from, to) = (T0.AddTicks(1000).Ticks, T0.AddTicks(9000).Ticks);
        Assert.Equal(samples.Skip(100).Where(s => s.Timestamp.Ticks >= from && s.Timestamp.Ticks <= to),
            WindowCodec.DecodeSegment(encoded, 100, from, to));
        Assert.Empty(WindowCodec.DecodeSegment(encoded, 0, T0.AddTicks(-5).Ticks, T0.AddTicks(-1).Ticks));
    }

    [Fact]
    public void The_stored_value_is_a_json_string_and_smaller_than_the_json_document()
    {
        var samples = Enumerable.Range(0, 2048).Select(i => new MetricSample(T0.AddMilliseconds(i * 100), $"m{i % 10}", i % 100, T0.AddSeconds(i / 10))).ToArray();
        var encoded = WindowCodec.Encode(samples);

        Assert.Equal(JsonValueKind.String, JsonDocument.Parse(encoded).RootElement.ValueKind);
        // What the Dapr .NET SDK's bulk get does to a value: UTF-8 text and back.
        Assert.Equal(samples, WindowCodec.DecodeSegment(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(encoded))));
        Assert.True(encoded.Length < LegacySegment.Encode(samples).Length, $"{encoded.Length} vs {LegacySegment.Encode(samples).Length} bytes");
    }

    [Theory]
    [InlineData("\"")]
    [InlineData("\"U")]
    [InlineData("\"not base64!\"")]
    [InlineData("\"AAAA\"")]   // base64 of zeros: no format marker
    [InlineData("\"UwI=\"")]   // marker, unknown version 2
    [InlineData("\"UwE=\"")]   // marker and version, then nothing
    public void A_damaged_value_is_refused_with_a_clear_error(string stored)
    {
        var error = Assert.Throws<InvalidDataException>(() => WindowCodec.DecodeSegment(Encoding.ASCII.GetBytes(stored)));
        Assert.Contains("window segment", error.Message);
    }

    [Fact]
    public void A_truncated_segment_is_refused()
    {
        var encoded = WindowCodec.Encode(Awkward());
        var raw = Convert.FromBase64String(Encoding.ASCII.GetString(encoded, 1, encoded.Length - 2));
        var cut = Encoding.ASCII.GetBytes($"\"{Convert.ToBase64String(raw[..^3])}\"");
        Assert.Throws<InvalidDataException>(() => WindowCodec.DecodeSegment(cut));
    }

    [Fact]
    public void Segments_of_the_json_format_are_read_as_before()
    {
        var samples = Awkward();
        var decoded = WindowCodec.DecodeSegment(LegacySegment.Encode(samples), 2, long.MinValue, long.MaxValue);
        Assert.Equal(samples.Skip(2).Select(s => (s.Timestamp, s.MetricName, s.SourceTimestamp)),
            decoded.Select(s => (s.Timestamp, s.MetricName, s.SourceTimestamp)));
        Assert.Equal(samples.Skip(2).Select(s => BitConverter.DoubleToInt64Bits(s.Value)), decoded.Select(s => BitConverter.DoubleToInt64Bits(s.Value)));
    }

    [Fact]
    public async Task A_window_written_in_the_json_format_is_queried_and_appended_to()
    {
        // A store as an earlier version left it: its segments are JSON documents. Appends then fold them with new,
        // binary segments, and a query reads both.
        var store = new MemoryKeyValueStore();
        var gpu = new GpuIdentity("GPU-legacy", "host-1", 0, "nvidia0", "H100");
        var writer = new WindowWriter(store, new WindowOptions());
        var old = Enumerable.Range(0, 300).Select(i => new MetricSample(T0.AddSeconds(i), $"m{i % 3}", i, T0)).ToArray();
        await writer.AppendAsync([new GpuSamples(gpu, old)]);
        await RewriteSegmentsAsJsonAsync(store, gpu.Uuid);

        var newer = Enumerable.Range(300, 200).Select(i => new MetricSample(T0.AddSeconds(i), $"m{i % 3}", i + 0.5, null)).ToArray();
        await new WindowWriter(store, new WindowOptions()).AppendAsync([new GpuSamples(gpu, newer)]);

        var page = await new WindowReader(store).QueryAsync(gpu.Uuid, new Queries.TelemetryQuery(Limit: 10_000));
        Assert.NotNull(page);
        Assert.Equal([.. old, .. newer], page.Samples);
    }

    private static async Task RewriteSegmentsAsJsonAsync(MemoryKeyValueStore store, string uuid)
    {
        var manifest = WindowCodec.DecodeManifest((await store.GetAsync(WindowKeys.Manifest(uuid)))!.Value);
        foreach (var segment in manifest.Segments)
        {
            var key = WindowKeys.Segment(uuid, segment.Id);
            var samples = WindowCodec.DecodeSegment((await store.GetAsync(key))!.Value);
            await store.ExecuteAsync([new UpsertOperation(key, LegacySegment.Encode(samples), WriteCondition.Any)]);
        }
    }
}

/// <summary>A segment as versions before issue 13 stored it: the serializer's <see cref="SegmentDocument"/>.</summary>
internal static class LegacySegment
{
    public static byte[] Encode(IReadOnlyList<MetricSample> samples)
    {
        var metrics = samples.Select(s => s.MetricName).Distinct().ToList();
        var document = new SegmentDocument
        {
            Metrics = [.. metrics],
            Times = Deltas(samples.Select(s => (long?)s.Timestamp.Ticks)).Select(d => d!.Value).ToArray(),
            MetricIndex = [.. samples.Select(s => metrics.IndexOf(s.MetricName))],
            Values = [.. samples.Select(s => s.Value)],
            SourceTimes = Deltas(samples.Select(s => s.SourceTimestamp?.Ticks)),
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, WindowJsonContext.Default.SegmentDocument);
    }

    private static long?[] Deltas(IEnumerable<long?> ticks)
    {
        long previous = 0;
        return [.. ticks.Select(t =>
        {
            if (t is not { } value) return (long?)null;
            var delta = value - previous;
            previous = value;
            return delta;
        })];
    }
}
