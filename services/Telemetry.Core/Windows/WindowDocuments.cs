using System.Text.Json;
using System.Text.Json.Serialization;
using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>
/// The per-GPU manifest: the GPU, lifetime facts, and the ordered list of segments that hold the window.
/// Segments cover disjoint, increasing time ranges, so a time-range read picks segments from here alone.
/// </summary>
internal sealed class WindowManifest
{
    public required GpuIdentity Gpu { get; set; }
    public long FirstSeen { get; set; }
    public long LastSeen { get; set; }
    public long NextSegment { get; set; }
    public List<SegmentRef> Segments { get; set; } = [];

    [JsonIgnore]
    public int Retained
    {
        get
        {
            var total = 0;
            foreach (var segment in Segments) total += segment.Count - segment.Skip;
            return total;
        }
    }
}

/// <summary>A segment as the manifest sees it. <see cref="Skip"/> is only ever non-zero on the first segment:
/// that many of its oldest samples have been evicted without rewriting it.</summary>
internal sealed record SegmentRef(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("n")] int Count,
    [property: JsonPropertyName("from")] long From,
    [property: JsonPropertyName("to")] long To,
    [property: JsonPropertyName("skip")] int Skip = 0);

/// <summary>A segment's samples, stored by column: metric names once, timestamps and source timestamps as
/// deltas, so a sample costs a few dozen bytes of JSON.</summary>
internal sealed class SegmentDocument
{
    [JsonPropertyName("m")] public string[] Metrics { get; set; } = [];
    [JsonPropertyName("t")] public long[] Times { get; set; } = [];
    [JsonPropertyName("k")] public int[] MetricIndex { get; set; } = [];
    [JsonPropertyName("v")] public double[] Values { get; set; } = [];
    [JsonPropertyName("s")] public long?[] SourceTimes { get; set; } = [];
}

/// <summary>One bucket of the GPU directory: the identities of the GPUs whose uuid hashes here.</summary>
internal sealed class DirectoryBucket
{
    public List<GpuIdentity> Gpus { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(WindowManifest))]
[JsonSerializable(typeof(SegmentDocument))]
[JsonSerializable(typeof(DirectoryBucket))]
internal sealed partial class WindowJsonContext : JsonSerializerContext;

internal static class WindowCodec
{
    public static byte[] Encode(WindowManifest manifest) =>
        JsonSerializer.SerializeToUtf8Bytes(manifest, WindowJsonContext.Default.WindowManifest);

    public static WindowManifest DecodeManifest(byte[] bytes) =>
        JsonSerializer.Deserialize(bytes, WindowJsonContext.Default.WindowManifest)
        ?? throw new InvalidDataException("Empty window manifest.");

    public static byte[] Encode(DirectoryBucket bucket) =>
        JsonSerializer.SerializeToUtf8Bytes(bucket, WindowJsonContext.Default.DirectoryBucket);

    public static DirectoryBucket DecodeBucket(byte[] bytes) =>
        JsonSerializer.Deserialize(bytes, WindowJsonContext.Default.DirectoryBucket) ?? new DirectoryBucket();

    public static byte[] Encode(ReadOnlySpan<MetricSample> samples)
    {
        var metrics = new List<string>();
        var metricIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var document = new SegmentDocument
        {
            Times = new long[samples.Length],
            MetricIndex = new int[samples.Length],
            Values = new double[samples.Length],
            SourceTimes = new long?[samples.Length],
        };
        long previousTime = 0, previousSource = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var sample = samples[i];
            if (!metricIds.TryGetValue(sample.MetricName, out var id))
            {
                id = metrics.Count;
                metricIds.Add(sample.MetricName, id);
                metrics.Add(sample.MetricName);
            }
            document.Times[i] = sample.Timestamp.Ticks - previousTime;
            previousTime = sample.Timestamp.Ticks;
            document.MetricIndex[i] = id;
            document.Values[i] = sample.Value;
            if (sample.SourceTimestamp is { } source)
            {
                document.SourceTimes[i] = source.Ticks - previousSource;
                previousSource = source.Ticks;
            }
        }
        document.Metrics = [.. metrics];
        return JsonSerializer.SerializeToUtf8Bytes(document, WindowJsonContext.Default.SegmentDocument);
    }

    public static MetricSample[] DecodeSegment(byte[] bytes)
    {
        var document = JsonSerializer.Deserialize(bytes, WindowJsonContext.Default.SegmentDocument)
            ?? throw new InvalidDataException("Empty window segment.");
        var samples = new MetricSample[document.Times.Length];
        long time = 0, source = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            time += document.Times[i];
            DateTime? sourceTime = null;
            if (document.SourceTimes[i] is { } delta)
            {
                source += delta;
                sourceTime = new DateTime(source, DateTimeKind.Utc);
            }
            samples[i] = new MetricSample(new DateTime(time, DateTimeKind.Utc),
                document.Metrics[document.MetricIndex[i]], document.Values[i], sourceTime);
        }
        return samples;
    }
}
