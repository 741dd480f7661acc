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
    [JsonConverter(typeof(SegmentListJsonConverter))]
    public List<SegmentRef> Segments { get; set; } = [];

    /// <summary>Ids of the segments the commit that wrote this manifest replaced. Its writer deletes them right after;
    /// the next commit of this GPU deletes them again, so a writer that died between commit and clean-up leaves
    /// nothing behind (in Dapr mode no key listing could find them). Absent in manifests of older versions.</summary>
    public List<string>? Garbage { get; set; }

    /// <summary>The newest stored value of each metric, so the fleet page gets every GPU's latest readings from
    /// the one bulk read of manifests that lists them, without reading segments. Absent from manifests written
    /// before it existed (read as none; the next append fills it).</summary>
    [JsonConverter(typeof(LatestValuesJsonConverter))]
    public Dictionary<string, LatestValue>? Latest { get; set; }

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

/// <summary>A metric's newest value in a manifest: its time (ticks) and value.</summary>
internal sealed record LatestValue(
    [property: JsonPropertyName("t")] long Time,
    [property: JsonPropertyName("v")] double Value);

/// <summary>A segment as the manifest sees it. <see cref="Skip"/> is only ever non-zero on the first segment:
/// that many of its oldest samples have been evicted without rewriting it.</summary>
internal sealed record SegmentRef(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("n")] int Count,
    [property: JsonPropertyName("from")] long From,
    [property: JsonPropertyName("to")] long To,
    [property: JsonPropertyName("skip")] int Skip = 0);

/// <summary>A segment's samples by column (metric names once, timestamps and source timestamps as deltas) as JSON: the
/// format versions before issue 13 stored, still read (<see cref="WindowCodec.DecodeSegment"/>). New segments are
/// written as <see cref="BinarySegment"/>, the same columns without JSON numbers.</summary>
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

    private static ReadOnlySpan<byte> MetricsName => "m"u8;
    private static ReadOnlySpan<byte> TimesName => "t"u8;
    private static ReadOnlySpan<byte> IndexName => "k"u8;
    private static ReadOnlySpan<byte> ValuesName => "v"u8;
    private static ReadOnlySpan<byte> SourcesName => "s"u8;

    /// <summary>Encodes samples in the current segment format, <see cref="BinarySegment"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<MetricSample> samples) => BinarySegment.Encode(samples);

    /// <summary>Only the samples from index <paramref name="skip"/> on whose times lie in [<paramref name="from"/>,
    /// <paramref name="to"/>] (a segment's times never decrease), in either stored format: <see cref="BinarySegment"/>
    /// (a JSON string) or the <see cref="SegmentDocument"/> JSON object that versions before issue 13 wrote.</summary>
    public static MetricSample[] DecodeSegment(byte[] bytes, int skip = 0, long from = long.MinValue, long to = long.MaxValue) =>
        bytes.Length > 0 && bytes[0] == BinarySegment.Quote
            ? BinarySegment.Decode(bytes, skip, from, to)
            : DecodeJsonSegment(bytes, skip, from, to);

    /// <summary>A whole segment for a reader that will not keep it: in the current format into an array rented from
    /// <see cref="System.Buffers.ArrayPool{T}.Shared"/> (<paramref name="rented"/> true; the caller returns it when done
    /// with the samples), in the format before issue 13 into a new array.</summary>
    public static ArraySegment<MetricSample> DecodeSegmentForLoan(byte[] bytes, out bool rented)
    {
        rented = bytes.Length > 0 && bytes[0] == BinarySegment.Quote;
        return rented ? BinarySegment.DecodeRented(bytes) : new ArraySegment<MetricSample>(DecodeJsonSegment(bytes, 0, long.MinValue, long.MaxValue));
    }

    /// <summary>Decodes a <see cref="SegmentDocument"/> (the format before issue 13), reading the JSON once with
    /// <see cref="Utf8JsonReader"/>.
    /// Only the samples from index <paramref name="skip"/> on whose times lie in [<paramref name="from"/>,
    /// <paramref name="to"/>] are returned (a segment's times never decrease): the time column comes first in
    /// the document, so the other columns are then parsed over that range alone, which is what makes a
    /// narrow time-range query cheap.</summary>
    private static MetricSample[] DecodeJsonSegment(byte[] bytes, int skip, long from, long to)
    {
        var reader = new Utf8JsonReader(bytes);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            if (reader.TokenType == JsonTokenType.Null) throw new InvalidDataException("Empty window segment.");
            throw new InvalidDataException("A window segment is not a JSON object.");
        }

        // First the metric names and the times; a column met before the times is read on a second pass.
        var start = reader;
        var revisit = false;
        string[] metrics = [];
        long[]? times = null;
        while (times is null && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(TimesName)) times = ReadTimes(ref reader);
            else if (reader.ValueTextEquals(MetricsName)) metrics = ReadStrings(ref reader);
            else
            {
                revisit = true;
                reader.Skip();
            }
        }
        times ??= [];
        if (revisit) reader = start;

        var first = Math.Min(skip, times.Length);
        while (first < times.Length && times[first] < from) first++;
        var end = first;
        while (end < times.Length && times[end] <= to) end++;

        int[] index = [];
        double[] values = [];
        DateTime?[]? sources = null;
        int indexLength = 0, valuesLength = 0, sourcesLength = times.Length;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(IndexName)) index = ReadRange(ref reader, first, end, static (ref Utf8JsonReader r) => r.GetInt32(), out indexLength);
            else if (reader.ValueTextEquals(ValuesName)) values = ReadRange(ref reader, first, end, ReadDouble, out valuesLength);
            else if (reader.ValueTextEquals(SourcesName)) sources = ReadSources(ref reader, first, end, out sourcesLength);
            else if (reader.ValueTextEquals(MetricsName)) metrics = ReadStrings(ref reader);
            else reader.Skip();
        }
        if (indexLength != times.Length || valuesLength != times.Length || sourcesLength != times.Length)
            throw new InvalidDataException("A window segment's columns differ in length.");

        var samples = new MetricSample[end - first];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = new MetricSample(new DateTime(times[first + i], DateTimeKind.Utc), metrics[index[i]], values[i], sources?[i]);
        }
        return samples;
    }

    private delegate T ElementReader<T>(ref Utf8JsonReader reader);

    /// <summary>The time column as absolute ticks (it is stored as deltas).</summary>
    private static long[] ReadTimes(ref Utf8JsonReader reader)
    {
        var times = ReadAll(ref reader, static (ref Utf8JsonReader r) => r.GetInt64());
        long time = 0;
        for (var i = 0; i < times.Length; i++) times[i] = time += times[i];
        return times;
    }

    private static T[] ReadAll<T>(ref Utf8JsonReader reader, ElementReader<T> read)
    {
        if (!StartColumn(ref reader)) return [];
        var items = new List<T>(2048);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) items.Add(read(ref reader));
        return [.. items];
    }

    /// <summary>The elements of an array column at indexes [<paramref name="first"/>, <paramref name="end"/>);
    /// the others are stepped over unparsed. <paramref name="length"/> counts them all.</summary>
    private static T[] ReadRange<T>(ref Utf8JsonReader reader, int first, int end, ElementReader<T> read, out int length)
    {
        length = 0;
        if (!StartColumn(ref reader)) return [];
        var items = new T[end - first];
        for (; reader.Read() && reader.TokenType != JsonTokenType.EndArray; length++)
        {
            if (length >= first && length < end) items[length - first] = read(ref reader);
        }
        return items;
    }

    /// <summary>Source times over [<paramref name="first"/>, <paramref name="end"/>): every delta before
    /// <paramref name="end"/> counts, since each is relative to the previous non-null one.</summary>
    private static DateTime?[] ReadSources(ref Utf8JsonReader reader, int first, int end, out int length)
    {
        length = 0;
        if (!StartColumn(ref reader)) return [];
        var sources = new DateTime?[end - first];
        long source = 0;
        for (; reader.Read() && reader.TokenType != JsonTokenType.EndArray; length++)
        {
            if (length >= end || reader.TokenType == JsonTokenType.Null) continue;
            source += reader.GetInt64();
            if (length >= first) sources[length - first] = new DateTime(source, DateTimeKind.Utc);
        }
        return sources;
    }

    /// <summary>False for a null column (read as empty).</summary>
    private static bool StartColumn(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new InvalidDataException("Truncated window segment.");
        if (reader.TokenType == JsonTokenType.Null) return false;
        if (reader.TokenType != JsonTokenType.StartArray) throw new InvalidDataException("A window segment column is not an array.");
        return true;
    }

    private static string[] ReadStrings(ref Utf8JsonReader reader) =>
        ReadAll(ref reader, static (ref Utf8JsonReader r) => r.GetString() ?? throw new InvalidDataException("A null metric name."));

    private static double ReadDouble(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number) return reader.GetDouble();
        return reader.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            var other => throw new InvalidDataException($"'{other}' is not a number."),
        };
    }
}
