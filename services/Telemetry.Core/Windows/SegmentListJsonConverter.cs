using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Core.Windows;

/// <summary>
/// A manifest's segment list as rows <c>[id, count, from, span, skip]</c>: <c>from</c> is absolute (ticks) for the
/// first segment and the gap after the previous segment's <c>to</c> for the others, <c>span</c> is <c>to - from</c>,
/// and <c>skip</c> is left out when 0. The manifest is rewritten on every append, so its size is the largest part
/// of the bytes a collector writes per sample (figure 3): the object form (<c>{"id":…,"n":…,"from":…,"to":…,"skip":…}</c>
/// with two 18-digit times) took about 95 bytes per segment, these rows about 40. Manifests written in the object
/// form by earlier versions are still read.
/// </summary>
internal sealed class SegmentListJsonConverter : JsonConverter<List<SegmentRef>>
{
    public override List<SegmentRef> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        Expect(ref reader, JsonTokenType.StartArray);
        var segments = new List<SegmentRef>();
        long previousTo = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var segment = reader.TokenType switch
            {
                JsonTokenType.StartArray => ReadRow(ref reader, segments.Count == 0 ? 0 : previousTo),
                JsonTokenType.StartObject => ReadObject(ref reader),
                _ => throw new JsonException($"A manifest segment is a row or an object, not {reader.TokenType}."),
            };
            segments.Add(segment);
            previousTo = segment.To;
        }
        return segments;
    }

    public override void Write(Utf8JsonWriter writer, List<SegmentRef> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        long previousTo = 0;
        for (var i = 0; i < value.Count; i++)
        {
            var segment = value[i];
            writer.WriteStartArray();
            writer.WriteStringValue(segment.Id);
            writer.WriteNumberValue(segment.Count);
            writer.WriteNumberValue(i == 0 ? segment.From : segment.From - previousTo);
            writer.WriteNumberValue(segment.To - segment.From);
            if (segment.Skip != 0) writer.WriteNumberValue(segment.Skip);
            writer.WriteEndArray();
            previousTo = segment.To;
        }
        writer.WriteEndArray();
    }

    private static SegmentRef ReadRow(ref Utf8JsonReader reader, long previousTo)
    {
        reader.Read();
        var id = reader.GetString() ?? throw new JsonException("A manifest segment row has a null id.");
        reader.Read();
        var count = reader.GetInt32();
        reader.Read();
        var from = previousTo + reader.GetInt64();
        reader.Read();
        var to = from + reader.GetInt64();
        reader.Read();
        var skip = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            skip = reader.GetInt32();
            reader.Read();
        }
        if (reader.TokenType != JsonTokenType.EndArray) throw new JsonException("A manifest segment row has more than five fields.");
        return new SegmentRef(id, count, from, to, skip);
    }

    /// <summary>The object form of versions before this converter.</summary>
    private static SegmentRef ReadObject(ref Utf8JsonReader reader)
    {
        string? id = null;
        int count = 0, skip = 0;
        long from = 0, to = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "id": id = reader.GetString(); break;
                case "n": count = reader.GetInt32(); break;
                case "from": from = reader.GetInt64(); break;
                case "to": to = reader.GetInt64(); break;
                case "skip": skip = reader.GetInt32(); break;
                default: reader.Skip(); break;
            }
        }
        return new SegmentRef(id ?? throw new JsonException("A manifest segment has no id."), count, from, to, skip);
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (reader.TokenType != type) throw new JsonException($"Expected {type} in a manifest, found {reader.TokenType}.");
    }
}
