using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Core.Model;

/// <summary>The wire format of a <see cref="TelemetryBatch"/> (pub/sub message body): snake_case JSON,
/// source-generated so the hot path never reflects.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TelemetryBatch))]
public sealed partial class TelemetryJsonContext : JsonSerializerContext;

public static class TelemetryJson
{
    public static byte[] Serialize(TelemetryBatch batch) =>
        JsonSerializer.SerializeToUtf8Bytes(batch, TelemetryJsonContext.Default.TelemetryBatch);

    /// <summary>Reads a batch, or explains why the bytes are not one (the reason a message is dropped).</summary>
    public static bool TryDeserialize(ReadOnlySpan<byte> json, out TelemetryBatch? batch, out string? problem)
    {
        batch = null;
        problem = null;
        try
        {
            batch = JsonSerializer.Deserialize(json, TelemetryJsonContext.Default.TelemetryBatch);
        }
        catch (JsonException error)
        {
            problem = $"not a telemetry batch: {error.Message}";
            return false;
        }
        if (batch is null || string.IsNullOrEmpty(batch.BatchId) || batch.Gpus is null)
        {
            problem = "not a telemetry batch: batch_id and gpus are required";
            batch = null;
            return false;
        }
        foreach (var gpu in batch.Gpus)
        {
            if (gpu?.Gpu is null || gpu.Samples is null)
            {
                problem = "not a telemetry batch: every entry of gpus needs gpu and samples";
                batch = null;
                return false;
            }
        }
        return true;
    }
}
