using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Telemetry.Core.Model;
using Telemetry.Hosting.Observability;

namespace Telemetry.Collector;

/// <summary>One message of a delivery: its batch, or why it has none, and the trace it continues.</summary>
public readonly record struct DeliveredMessage(string EntryId, TelemetryBatch? Batch, string? Problem, ActivityContext? Origin);

/// <summary>What a delivery carried: a bulk delivery's entries, or a single delivery's one message.</summary>
public sealed record Delivery(bool IsBulk, IReadOnlyList<DeliveredMessage> Messages);

/// <summary>
/// A delivery's body read in one pass. A bulk delivery is <c>{"entries":[{"entryId", "event": CloudEvent}, ...]}</c> (dapr
/// <c>pkg/runtime/subscription/postman/http/http.go</c>, <c>DeliverBulk</c>) and every entry's batch is decoded where it lies
/// in the body. Parsing the body into a <see cref="JsonDocument"/> first and deserialising each entry's data from it read
/// every sample twice: a third of the collector's JSON work, 0.5 µs of its ~4 µs per sample (docs/performance.md,
/// figure 4). A body that is not well-formed JSON throws <see cref="JsonException"/>, as the document did.
/// </summary>
public static class DeliveryBody
{
    /// <summary>Reads the body into a pooled buffer (the server refuses one over its body limit) and decodes it.</summary>
    public static async Task<Delivery> ReadAsync(Stream body, long? length, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(length ?? 0, 4096, SubscriptionEndpoints.MaxDeliveryBytes) + 1);
        try
        {
            var filled = 0;
            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken)) > 0)
            {
                filled += read;
                if (filled < buffer.Length) continue;
                var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(0, filled).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
            }
            return Read(buffer.AsSpan(0, filled));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static Delivery Read(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        List<DeliveredMessage>? entries = null;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            while (NextProperty(ref reader, out var name))
            {
                if (name == Field.Entries && reader.TokenType == JsonTokenType.StartArray) entries = ReadEntries(ref reader);
                else reader.Skip();
            }
        }
        else
        {
            reader.Skip();
        }
        if (reader.Read()) throw new JsonException("More than one JSON value in the body.");
        if (entries is not null) return new Delivery(true, entries);

        // Not bulk: a single delivery's body is the batch itself (UseCloudEvents has unwrapped its CloudEvent).
        var single = new Utf8JsonReader(body);
        single.Read();
        return new Delivery(false, [Decode(ref single)]);
    }

    private static List<DeliveredMessage> ReadEntries(ref Utf8JsonReader reader)
    {
        var entries = new List<DeliveredMessage>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                entries.Add(new DeliveredMessage("", null, "the entry is not a JSON object", null));
                continue;
            }
            var entryId = "";
            DeliveredMessage? message = null;
            while (NextProperty(ref reader, out var name))
            {
                switch (name)
                {
                    case Field.EntryId: entryId = StringOrSkip(ref reader) ?? ""; break;
                    case Field.Event: message = ReadEvent(ref reader); break;
                    default: reader.Skip(); break;
                }
            }
            entries.Add(message is { } decoded ? decoded with { EntryId = entryId } : new DeliveredMessage(entryId, null, "the entry has no event", null));
        }
        return entries;
    }

    /// <summary>Bulk entries carry the whole CloudEvent: the batch is its <c>data</c>, and its <c>traceparent</c> (or
    /// <c>traceid</c>, which daprd falls back to) and <c>tracestate</c> say which trace the entry continues — a bulk
    /// request carries no one trace of its own. An event without <c>data</c> is taken as the batch itself.</summary>
    private static DeliveredMessage ReadEvent(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Decode(ref reader);
        var start = reader;
        string? traceParent = null, traceId = null, traceState = null;
        DeliveredMessage? data = null;
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case Field.Data: data = Decode(ref reader); break;
                case Field.TraceParent: traceParent = StringOrSkip(ref reader); break;
                case Field.TraceId: traceId = StringOrSkip(ref reader); break;
                case Field.TraceState: traceState = StringOrSkip(ref reader); break;
                default: reader.Skip(); break;
            }
        }
        if (data is null)
        {
            var whole = start;
            data = Decode(ref whole);
        }
        return data.Value with { Origin = PipelineTracing.ParseTraceParent(traceParent ?? traceId, traceState) };
    }

    /// <summary>A batch from the value the reader is on, leaving the reader on its last token.</summary>
    private static DeliveredMessage Decode(ref Utf8JsonReader reader)
    {
        TelemetryBatch? batch;
        string? problem;
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                TelemetryJson.TryRead(ref reader, out batch, out problem);
                break;
            case JsonTokenType.String:
                // Some brokers hand the data back as a JSON string holding the JSON text.
                TelemetryJson.TryDeserialize(Encoding.UTF8.GetBytes(reader.GetString() ?? ""), out batch, out problem);
                break;
            default:
                var kind = reader.TokenType switch
                {
                    JsonTokenType.StartArray => "an array",
                    JsonTokenType.Number => "a number",
                    JsonTokenType.True or JsonTokenType.False => "a boolean",
                    _ => "null",
                };
                reader.Skip();
                (batch, problem) = (null, $"data is {kind}, not a telemetry batch object");
                break;
        }
        return new DeliveredMessage("", batch, problem, null);
    }

    /// <summary>The properties a delivery's reader acts on, wherever they appear; any other is skipped.</summary>
    private enum Field { Other, Entries, EntryId, Event, Data, TraceParent, TraceId, TraceState }

    /// <summary>Moves to the next property's value and says which property it is; false at the end of the object.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader, out Field name)
    {
        name = Field.Other;
        if (!reader.Read() || reader.TokenType != JsonTokenType.PropertyName) return false;
        if (reader.ValueTextEquals("entries"u8)) name = Field.Entries;
        else if (reader.ValueTextEquals("entryId"u8)) name = Field.EntryId;
        else if (reader.ValueTextEquals("event"u8)) name = Field.Event;
        else if (reader.ValueTextEquals("data"u8)) name = Field.Data;
        else if (reader.ValueTextEquals("traceparent"u8)) name = Field.TraceParent;
        else if (reader.ValueTextEquals("traceid"u8)) name = Field.TraceId;
        else if (reader.ValueTextEquals("tracestate"u8)) name = Field.TraceState;
        reader.Read();
        return true;
    }

    private static string? StringOrSkip(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String) return reader.GetString();
        reader.Skip();
        return null;
    }
}
