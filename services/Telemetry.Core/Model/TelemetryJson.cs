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

    /// <summary>The same, from JSON already parsed (a bulk delivery's entry): no second round through bytes.</summary>
    public static bool TryDeserialize(JsonElement json, out TelemetryBatch? batch, out string? problem)
    {
        try
        {
            batch = json.Deserialize(TelemetryJsonContext.Default.TelemetryBatch);
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
