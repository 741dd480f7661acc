using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Telemetry.DaprDouble;

/// <summary>Builds the CloudEvent envelope daprd wraps around a published payload.</summary>
public static class CloudEvents
{
    public const string ContentType = "application/cloudevents+json";
    public const string EventType = "com.dapr.event.sent";
    public const string BulkEventType = "com.dapr.event.sent.bulk";

    /// <summary>
    /// Wraps <paramref name="data"/> (or, when it already is a CloudEvent, completes it) the way daprd does:
    /// JSON payloads become a JSON <c>data</c>, text stays a string, anything else goes to <c>data_base64</c>.
    /// </summary>
    public static JsonObject Create(ReadOnlySpan<byte> data, string? contentType, string sourceAppId, string pubsub, string topic,
        string? traceParent, DateTimeOffset now)
    {
        JsonObject ce;
        contentType = string.IsNullOrEmpty(contentType) ? null : contentType;
        if (contentType is not null && contentType.Contains("cloudevents", StringComparison.OrdinalIgnoreCase))
        {
            ce = JsonNode.Parse(data) as JsonObject
                 ?? throw new JsonException("a CloudEvent payload must be a JSON object");
            // A caller-supplied CloudEvent keeps its own attributes; daprd only fills what is missing.
            ce["id"] ??= Guid.NewGuid().ToString();
            ce["source"] ??= sourceAppId;
            ce["type"] ??= EventType;
            ce["specversion"] ??= "1.0";
        }
        else
        {
            ce = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString(),
                ["source"] = sourceAppId,
                ["type"] = EventType,
                ["specversion"] = "1.0",
                ["datacontenttype"] = contentType ?? "text/plain",
            };
            if (!data.IsEmpty)
            {
                if (IsJson(contentType)) ce["data"] = JsonNode.Parse(data);
                else if (contentType is null || contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)) ce["data"] = Encoding.UTF8.GetString(data);
                else ce["data_base64"] = Convert.ToBase64String(data);
            }
        }

        var trace = traceParent ?? NewTraceParent();
        ce["topic"] = topic;
        ce["pubsubname"] = pubsub;
        ce["traceid"] = trace;
        ce["traceparent"] = trace;
        ce["tracestate"] ??= "";
        ce["time"] ??= now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture);
        return ce;
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
                                    || contentType.Contains("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>A W3C traceparent, as daprd stamps on every event when the caller sent none.</summary>
    public static string NewTraceParent() =>
        $"00-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01";
}
