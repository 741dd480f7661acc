using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Core.Model;

/// <summary>The wire format of a <see cref="TelemetryBatch"/> (pub/sub message body): snake_case JSON,
/// source-generated so the hot path never reflects.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    Converters = [typeof(MetricSampleWireConverter)])]
[JsonSerializable(typeof(TelemetryBatch))]
public sealed partial class TelemetryJsonContext : JsonSerializerContext;

public static class TelemetryJson
{
    public static byte[] Serialize(TelemetryBatch batch) =>
        JsonSerializer.SerializeToUtf8Bytes(batch, TelemetryJsonContext.Default.TelemetryBatch);

    /// <summary>Reads a batch, or explains why the bytes are not one (the reason a message is dropped).</summary>
    public static bool TryDeserialize(ReadOnlySpan<byte> json, out TelemetryBatch? batch, out string? problem)
    {
        try
        {
            batch = JsonSerializer.Deserialize(json, TelemetryJsonContext.Default.TelemetryBatch);
        }
        catch (JsonException error)
        {
            return Refuse($"not a telemetry batch: {error.Message}", out batch, out problem);
        }
        return Check(batch, out batch, out problem);
    }

    private static readonly JsonConverter<TelemetryBatch> BatchConverter =
        (JsonConverter<TelemetryBatch>)TelemetryJsonContext.Default.TelemetryBatch.Converter;

    /// <summary>
    /// The same, for a batch inside a larger document (a bulk delivery's entry): the reader is on the batch's first token
    /// and is left on its last. The serializer's converter reads it where it lies; <c>JsonSerializer.Deserialize(ref
    /// reader)</c> would first skip over the whole value to find its end, reading every sample twice (docs/performance.md,
    /// figure 4). The converter called directly throws the reader's own exceptions, without the property path, so a batch
    /// it refuses is read once more through the serializer for the message a dropped message is logged with. JSON that is
    /// not well formed throws <see cref="JsonException"/>: nothing after it in the document can be read either.
    /// </summary>
    public static bool TryRead(ref Utf8JsonReader reader, out TelemetryBatch? batch, out string? problem)
    {
        var start = reader;
        try
        {
            return Check(BatchConverter.Read(ref reader, typeof(TelemetryBatch), TelemetryJsonContext.Default.Options), out batch, out problem);
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or FormatException or NotSupportedException)
        {
            reader = start;
            var valid = TryDeserialize(ref reader, out batch, out problem);
            reader = start;
            reader.Skip();
            return valid;
        }
    }

    private static bool TryDeserialize(ref Utf8JsonReader reader, out TelemetryBatch? batch, out string? problem)
    {
        try
        {
            batch = JsonSerializer.Deserialize(ref reader, TelemetryJsonContext.Default.TelemetryBatch);
        }
        catch (JsonException error)
        {
            return Refuse($"not a telemetry batch: {error.Message}", out batch, out problem);
        }
        return Check(batch, out batch, out problem);
    }

    private static bool Check(TelemetryBatch? read, out TelemetryBatch? batch, out string? problem)
    {
        if (read is null || string.IsNullOrEmpty(read.BatchId) || read.Gpus is null)
        {
            return Refuse("not a telemetry batch: batch_id and gpus are required", out batch, out problem);
        }
        foreach (var gpu in read.Gpus)
        {
            if (gpu?.Gpu is null || gpu.Samples is null)
            {
                return Refuse("not a telemetry batch: every entry of gpus needs gpu and samples", out batch, out problem);
            }
        }
        batch = read;
        problem = null;
        return true;
    }

    private static bool Refuse(string reason, out TelemetryBatch? batch, out string? problem)
    {
        batch = null;
        problem = reason;
        return false;
    }
}
