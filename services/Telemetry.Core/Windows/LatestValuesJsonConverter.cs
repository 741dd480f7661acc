using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Core.Windows;

/// <summary>
/// A manifest's latest values as rows <c>[metric, time, value]</c>: the first row's time is absolute (ticks), the
/// others are relative to it (one sample row's metrics are microseconds apart, so these take a few digits instead of
/// 18). About 35 bytes per metric instead of the 56 of <c>"metric":{"t":…,"v":…}</c>; like the segment rows
/// (<see cref="SegmentListJsonConverter"/>) this keeps the manifest, rewritten on every append, small. Manifests
/// written in the object form by earlier versions are still read. A value that is not finite is written as a string
/// ("NaN", "Infinity"), as the manifest's serializer options allow for other numbers.
/// </summary>
internal sealed class LatestValuesJsonConverter : JsonConverter<Dictionary<string, LatestValue>>
{
    public override Dictionary<string, LatestValue> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // Sized for a DCGM dump's ten-odd metrics at once instead of growing through 3 and 7.
        var latest = new Dictionary<string, LatestValue>(16, StringComparer.Ordinal);
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            // The object form: "metric": {"t": ticks, "v": value}.
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var metric = MetricName(ref reader);
                reader.Read();
                long time = 0;
                double value = 0;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString();
                    reader.Read();
                    if (name == "t") time = reader.GetInt64();
                    else if (name == "v") value = ReadValue(ref reader);
                    else reader.Skip();
                }
                latest[metric] = new LatestValue(time, value);
            }
            return latest;
        }

        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"Latest values are rows or an object, not {reader.TokenType}.");
        long first = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.String) throw new JsonException("A latest-value row starts with its metric name.");
            var metric = MetricName(ref reader);
            reader.Read();
            var time = reader.GetInt64();
            time = latest.Count == 0 ? first = time : first + time;
            reader.Read();
            var value = ReadValue(ref reader);
            reader.Read();
            if (reader.TokenType != JsonTokenType.EndArray) throw new JsonException("A latest-value row has more than three fields.");
            latest[metric] = new LatestValue(time, value);
        }
        return latest;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<string, LatestValue> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        long? first = null;
        foreach (var (metric, latest) in value)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(metric);
            writer.WriteNumberValue(first is { } origin ? latest.Time - origin : latest.Time);
            first ??= latest.Time;
            if (double.IsFinite(latest.Value)) writer.WriteNumberValue(latest.Value);
            else writer.WriteStringValue(latest.Value.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }

    /// <summary>One string per metric name for the process (<see cref="MetricNames"/>): every query reads a manifest,
    /// and these names were a fifth of a 10%-window query's garbage.</summary>
    private static string MetricName(ref Utf8JsonReader reader) =>
        reader.ValueIsEscaped || reader.HasValueSequence ? reader.GetString()! : MetricNames.FromUtf8(reader.ValueSpan);

    private static double ReadValue(ref Utf8JsonReader reader) => reader.TokenType == JsonTokenType.String
        ? double.Parse(reader.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : reader.GetDouble();
}
