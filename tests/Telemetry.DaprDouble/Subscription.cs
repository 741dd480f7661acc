using System.Text.Json;

namespace Telemetry.DaprDouble;

/// <summary>One entry of the app's <c>GET /dapr/subscribe</c> answer.</summary>
public sealed record Subscription(
    string PubsubName,
    string Topic,
    string Route,
    string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata,
    bool BulkEnabled,
    int MaxMessagesCount,
    int MaxAwaitDurationMs)
{
    // daprd's defaults when bulkSubscribe leaves them out.
    public const int DefaultMaxMessagesCount = 100;
    public const int DefaultMaxAwaitDurationMs = 1000;

    /// <summary>
    /// Parses the subscription list. Property names are matched case-insensitively (the SDKs differ: pubsubName / pubsubname).
    /// <c>routes.rules</c> hold CEL expressions the double does not evaluate: it delivers to <c>routes.default</c>,
    /// else to the first rule's path.
    /// </summary>
    public static IReadOnlyList<Subscription> ParseList(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new InvalidOperationException("GET /dapr/subscribe must answer a JSON array");
        var list = new List<Subscription>();
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            var pubsub = Str(item, "pubsubname") ?? throw new InvalidOperationException($"subscription without pubsubname: {item}");
            var topic = Str(item, "topic") ?? throw new InvalidOperationException($"subscription without topic: {item}");
            var route = Str(item, "route");
            if (Prop(item, "routes") is { ValueKind: JsonValueKind.Object } routes)
            {
                route = Str(routes, "default") ?? route;
                if (route is null && Prop(routes, "rules") is { ValueKind: JsonValueKind.Array } rules)
                    route = rules.EnumerateArray().Select(r => Str(r, "path")).FirstOrDefault(p => p is not null);
            }
            var metadata = new Dictionary<string, string>();
            if (Prop(item, "metadata") is { ValueKind: JsonValueKind.Object } md)
                foreach (var p in md.EnumerateObject()) metadata[p.Name] = p.Value.ToString();

            bool bulk = false;
            int maxCount = DefaultMaxMessagesCount, maxAwait = DefaultMaxAwaitDurationMs;
            if (Prop(item, "bulkSubscribe") is { ValueKind: JsonValueKind.Object } b)
            {
                bulk = Prop(b, "enabled") is { ValueKind: JsonValueKind.True };
                if (Prop(b, "maxMessagesCount") is { ValueKind: JsonValueKind.Number } c && c.GetInt32() > 0) maxCount = c.GetInt32();
                if (Prop(b, "maxAwaitDurationMs") is { ValueKind: JsonValueKind.Number } a && a.GetInt32() > 0) maxAwait = a.GetInt32();
            }
            list.Add(new Subscription(pubsub, topic, NormalizeRoute(route ?? topic), Str(item, "deadLetterTopic"), metadata, bulk, maxCount, maxAwait));
        }
        return list;
    }

    private static string NormalizeRoute(string route) => route.StartsWith('/') ? route : "/" + route;

    private static JsonElement? Prop(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        foreach (var p in e.EnumerateObject())
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        return null;
    }

    private static string? Str(JsonElement e, string name) =>
        Prop(e, name) is { ValueKind: JsonValueKind.String } v && v.GetString() is { Length: > 0 } s ? s : null;
}
