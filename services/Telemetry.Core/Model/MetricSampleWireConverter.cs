using System.Collections.Concurrent;
using System.Text.Json;
using Telemetry.Core.Csv;
using System.Text.Json.Serialization;

namespace Telemetry.Core.Model;

/// <summary>
/// A <see cref="MetricSample"/> on the wire, written and read with the JSON writer and reader directly. The
/// serializer builds a record struct through its constructor, with an argument-state object per sample, and a new
/// string per metric name: at a few hundred thousand samples a second that was a third of the collector's
/// allocations. The JSON is the serializer's, property for property (tested): <c>timestamp</c>, <c>metric_name</c>,
/// <c>value</c>, then <c>source_timestamp</c> only when there is one. Reading accepts any order, skips unknown
/// properties and refuses what the serializer refused (a missing or null required property, a value that is not a
/// number).
/// </summary>
public sealed class MetricSampleWireConverter : JsonConverter<MetricSample>
{
    private static ReadOnlySpan<byte> TimestampName => "timestamp"u8;
    private static ReadOnlySpan<byte> MetricNameName => "metric_name"u8;
    private static ReadOnlySpan<byte> ValueName => "value"u8;
    private static ReadOnlySpan<byte> SourceTimestampName => "source_timestamp"u8;

    /// <summary>Metric names seen so far, so each is one string however many samples carry it. Bounded: a
    /// publisher inventing names cannot grow it past this; further names are simply not shared.</summary>
    private const int MaxSharedNames = 4096;
    private static readonly ConcurrentDictionary<byte[], string> Names = new(ByteKeyComparer.Instance);
    private static readonly ConcurrentDictionary<byte[], string>.AlternateLookup<ReadOnlySpan<byte>> NamesByBytes =
        Names.GetAlternateLookup<ReadOnlySpan<byte>>();
    private static int _sharedNames;

    public override void Write(Utf8JsonWriter writer, MetricSample value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString(TimestampName, value.Timestamp);
        writer.WriteString(MetricNameName, value.MetricName);
        writer.WriteNumber(ValueName, value.Value);
        if (value.SourceTimestamp is { } source) writer.WriteString(SourceTimestampName, source);
        writer.WriteEndObject();
    }

    public override MetricSample Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("A sample must be a JSON object.");
        DateTime? timestamp = null, source = null;
        string? metricName = null;
        double? value = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(TimestampName))
            {
                reader.Read();
                timestamp = reader.TokenType == JsonTokenType.Null ? null : reader.GetDateTime();
            }
            else if (reader.ValueTextEquals(MetricNameName))
            {
                reader.Read();
                metricName = reader.TokenType == JsonTokenType.Null ? null : SharedName(ref reader);
            }
            else if (reader.ValueTextEquals(ValueName))
            {
                reader.Read();
                value = reader.TokenType == JsonTokenType.Null ? null : reader.GetDouble();
            }
            else if (reader.ValueTextEquals(SourceTimestampName))
            {
                reader.Read();
                source = reader.TokenType == JsonTokenType.Null ? null : reader.GetDateTime();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject) throw new JsonException("A sample is not a complete JSON object.");
        if (timestamp is null || metricName is null || value is null)
        {
            throw new JsonException("A sample needs timestamp, metric_name and value.");
        }
        return new MetricSample(timestamp.Value, metricName, value.Value, source);
    }

    /// <summary>Looked up by the name's UTF-8 bytes, as the CSV reader looks up its names: a hit allocates nothing.</summary>
    private static string SharedName(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("metric_name must be a string.");
        // Escaped or split across buffers: rare, and simply not shared.
        if (reader.ValueIsEscaped || reader.HasValueSequence) return reader.GetString()!;
        if (NamesByBytes.TryGetValue(reader.ValueSpan, out var known)) return known;
        var created = reader.GetString()!;
        if (Interlocked.Increment(ref _sharedNames) <= MaxSharedNames) NamesByBytes.TryAdd(reader.ValueSpan, created);
        return created;
    }
}
