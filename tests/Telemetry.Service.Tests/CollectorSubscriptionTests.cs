using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Hosting;
using Telemetry.Service.Tests.Support;

namespace Telemetry.Service.Tests;

/// <summary>The collector's Dapr subscription, fed CloudEvents and bulk envelopes as daprd sends them.</summary>
public sealed class CollectorSubscriptionTests
{
    private const int BrokerPort = 9000, HealthPort = 8080;
    private const string Route = "/subscriptions/telemetry";
    private const string DeadLetterRoute = "/subscriptions/telemetry-deadletter";

    private static HostFactory<CollectorProgram> Collector(IKeyValueStore store, Dictionary<string, string?>? settings = null) =>
        new(settings ?? new() { ["LOG_LEVEL"] = "Critical" }, services => services.Replace(ServiceDescriptor.Singleton(store)));

    private static readonly DateTime SampleTime = DateTime.UtcNow.AddMinutes(-5);

    private static TelemetryBatch Batch(string id, string uuid, int samples = 2, int offsetSeconds = 0) => new(id,
    [
        new GpuSamples(new GpuIdentity(uuid, "host-x", 3, "nvidia3", "NVIDIA H100 80GB HBM3"),
            [.. Enumerable.Range(0, samples).Select(i => new MetricSample(
                SampleTime.AddSeconds(offsetSeconds + i), "DCGM_FI_DEV_GPU_UTIL", i, new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc)))]),
    ]);

    private static JsonObject CloudEvent(JsonNode? data, string id = "ce-1") => new()
    {
        ["specversion"] = "1.0",
        ["id"] = id,
        ["source"] = "telemetry-streamer",
        ["type"] = "com.dapr.event.sent",
        ["datacontenttype"] = "application/json",
        ["pubsubname"] = "telemetry-pubsub",
        ["topic"] = "telemetry",
        ["traceid"] = "00-00000000000000000000000000000001-0000000000000001-01",
        ["data"] = data,
    };

    private static JsonNode BatchJson(TelemetryBatch batch) => JsonNode.Parse(TelemetryJson.Serialize(batch))!;

    private static async Task<JsonNode> PostAsync(HttpClient client, JsonNode body, string contentType, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await client.PostAsync(Route, content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"POST {Route}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static async Task<int> StoredAsync(IServiceProvider services, string uuid) =>
        (await new WindowReader(services.GetRequiredService<IKeyValueStore>()).GetGpuAsync(uuid))?.Samples ?? 0;

    [Fact]
    public async Task Subscribe_lists_the_bulk_topic_with_its_dead_letter_topic_on_the_app_port()
    {
        await using var host = Collector(new MemoryKeyValueStore());
        using var app = host.ClientOn(BrokerPort);
        var subscriptions = (await app.GetJsonAsync("/dapr/subscribe")).AsArray();
        Assert.Equal(2, subscriptions.Count);
        var subscription = subscriptions.Single(s => (string)s!["topic"]! == "telemetry")!.AsObject();
        // The SDK writes "pubsubName" and a route without its leading slash; daprd reads JSON keys without regard
        // to case and routes relative to the app, so both are what a sidecar expects.
        var pubsub = subscription.Single(p => p.Key.Equals("pubsubname", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.Equal("telemetry-pubsub", (string)pubsub!);
        Assert.Equal("telemetry", (string)subscription["topic"]!);
        Assert.Equal(Route, "/" + ((string)subscription["route"]!).TrimStart('/'));
        Assert.Equal("telemetry-deadletter", (string)subscription["deadLetterTopic"]!);
        var bulk = subscription["bulkSubscribe"]!;
        Assert.True((bool)bulk["enabled"]!);
        Assert.True((int)bulk["maxMessagesCount"]! > 1);
        Assert.InRange((int)bulk["maxAwaitDurationMs"]!, 1, 1000);

        // The dead-letter topic is consumed too (counted, and stored once the store is back), with no dead letter of its own.
        var deadLetters = subscriptions.Single(s => (string)s!["topic"]! == "telemetry-deadletter")!.AsObject();
        Assert.Equal(DeadLetterRoute, "/" + ((string)deadLetters["route"]!).TrimStart('/'));
        Assert.False(deadLetters.ContainsKey("deadLetterTopic") && deadLetters["deadLetterTopic"] is not null);
        Assert.True((bool)deadLetters["bulkSubscribe"]!["enabled"]!);

        using var elsewhere = host.ClientOn(HealthPort);
        using var response = await elsewhere.GetAsync("/dapr/subscribe");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task A_single_cloud_event_is_stored_and_a_redelivery_is_stored_once()
    {
        var store = new MemoryKeyValueStore();
        await using var host = Collector(store);
        using var app = host.ClientOn(BrokerPort);
        var duplicatesBefore = TelemetryMetrics.DuplicatesDropped.Value;
        var envelope = CloudEvent(BatchJson(Batch("b-1", "GPU-single", samples: 3)));

        var answer = await PostAsync(app, envelope, "application/cloudevents+json");
        Assert.Equal("SUCCESS", (string)answer["status"]!);
        Assert.Equal(3, await StoredAsync(host.Services, "GPU-single"));
        var page = await new WindowReader(store).QueryAsync("GPU-single", new TelemetryQuery());
        Assert.Equal([0.0, 1.0, 2.0], page!.Samples.Select(s => s.Value));
        Assert.Equal(SampleTime, page.Samples[0].Timestamp);

        var again = await PostAsync(app, envelope, "application/cloudevents+json");
        Assert.Equal("SUCCESS", (string)again["status"]!);
        Assert.Equal(3, await StoredAsync(host.Services, "GPU-single"));
        Assert.True(TelemetryMetrics.DuplicatesDropped.Value - duplicatesBefore >= 3);
    }

    [Fact]
    public async Task A_single_event_that_is_not_a_batch_is_dropped()
    {
        await using var host = Collector(new MemoryKeyValueStore());
        using var app = host.ClientOn(BrokerPort);
        var before = TelemetryMetrics.MessagesDropped.WithLabels("wrong_schema").Value;
        var answer = await PostAsync(app, CloudEvent(new JsonObject { ["hello"] = "world" }), "application/cloudevents+json");
        Assert.Equal("DROP", (string)answer["status"]!);
        Assert.True(TelemetryMetrics.MessagesDropped.WithLabels("wrong_schema").Value - before >= 1);
    }

    [Fact]
    public async Task A_bulk_delivery_answers_each_entry_success_for_good_and_drop_for_poison()
    {
        await using var host = Collector(new MemoryKeyValueStore());
        using var app = host.ClientOn(BrokerPort);
        using var metrics = host.ClientOn(9091);
        var droppedBefore = PrometheusText.Sum(await PrometheusText.ScrapeAsync(metrics), "telemetry_messages_dropped_total") ?? 0;

        var missingBatchId = BatchJson(Batch("x", "GPU-poison"));
        missingBatchId.AsObject().Remove("batch_id");
        var entries = new (string Id, JsonNode? Event)[]
        {
            ("good-1", CloudEvent(BatchJson(Batch("b-1", "GPU-bulk-1")), "ce-1")),
            ("wrong-schema", CloudEvent(new JsonObject { ["rows"] = new JsonArray(1, 2, 3) }, "ce-2")),
            ("good-2", CloudEvent(BatchJson(Batch("b-2", "GPU-bulk-2", samples: 4)), "ce-3")),
            ("not-an-object", CloudEvent(JsonValue.Create(42), "ce-4")),
            ("not-json-text", CloudEvent(JsonValue.Create("{this is not json"), "ce-5")),
            ("no-batch-id", CloudEvent(missingBatchId, "ce-6")),
        };
        var answer = await PostAsync(app, BulkEnvelope(entries), "application/json");

        var statuses = answer["statuses"]!.AsArray().ToDictionary(s => (string)s!["entryId"]!, s => (string)s!["status"]!);
        Assert.Equal(new Dictionary<string, string>
        {
            ["good-1"] = "SUCCESS", ["good-2"] = "SUCCESS",
            ["wrong-schema"] = "DROP", ["not-an-object"] = "DROP", ["not-json-text"] = "DROP", ["no-batch-id"] = "DROP",
        }, statuses);
        Assert.Equal(2, await StoredAsync(host.Services, "GPU-bulk-1"));
        Assert.Equal(4, await StoredAsync(host.Services, "GPU-bulk-2"));
        Assert.Equal(0, await StoredAsync(host.Services, "GPU-poison"));

        var droppedAfter = PrometheusText.Sum(await PrometheusText.ScrapeAsync(metrics), "telemetry_messages_dropped_total");
        Assert.True(droppedAfter - droppedBefore >= 4, $"dropped grew by {droppedAfter - droppedBefore}");
    }

    [Fact]
    public async Task Bulk_entries_in_less_common_shapes_are_read_or_dropped_one_by_one()
    {
        await using var host = Collector(new MemoryKeyValueStore());
        using var app = host.ClientOn(BrokerPort);

        var envelope = BulkEnvelope(
        [
            ("data-as-text", CloudEvent(JsonValue.Create(BatchJson(Batch("b-1", "GPU-text", samples: 2)).ToJsonString()))),
            ("event-is-the-batch", BatchJson(Batch("b-2", "GPU-bare", samples: 3))),
            ("data-is-an-array", CloudEvent(new JsonArray(1, 2))),
            ("data-is-null", CloudEvent(null)),
        ]);
        // Entries daprd would not send, which must cost only themselves: one that is not an object, one whose id is a
        // number, one whose batch has a property of the wrong type deep inside.
        var wrongType = BatchJson(Batch("b-3", "GPU-wrong"));
        wrongType["gpus"]![0]!["gpu"]!["gpu_index"] = "three";
        envelope["entries"]!.AsArray().Add(17);
        envelope["entries"]!.AsArray().Add(new JsonObject { ["entryId"] = 5, ["event"] = CloudEvent(BatchJson(Batch("b-4", "GPU-numbered"))) });
        envelope["entries"]!.AsArray().Add(new JsonObject { ["entryId"] = "wrong-type", ["event"] = CloudEvent(wrongType) });
        envelope["entries"]!.AsArray().Add(new JsonObject { ["entryId"] = "last", ["event"] = CloudEvent(BatchJson(Batch("b-5", "GPU-last", samples: 5))) });

        var answer = await PostAsync(app, envelope, "application/json");
        var statuses = answer["statuses"]!.AsArray().Select(s => $"{(string)s!["entryId"]!}={(string)s!["status"]!}").Order();
        Assert.Equal(["=DROP", "=SUCCESS", "data-as-text=SUCCESS", "data-is-an-array=DROP", "data-is-null=DROP", "event-is-the-batch=SUCCESS",
            "last=SUCCESS", "wrong-type=DROP"], statuses);
        Assert.Equal(2, await StoredAsync(host.Services, "GPU-text"));
        Assert.Equal(3, await StoredAsync(host.Services, "GPU-bare"));
        Assert.Equal(2, await StoredAsync(host.Services, "GPU-numbered"));
        Assert.Equal(5, await StoredAsync(host.Services, "GPU-last"));
        Assert.Equal(0, await StoredAsync(host.Services, "GPU-wrong"));
    }

    [Fact]
    public async Task A_store_failure_asks_for_redelivery_of_the_good_entries_only()
    {
        await using var host = Collector(new ThrowingStore());
        using var app = host.ClientOn(BrokerPort);

        var answer = await PostAsync(app, BulkEnvelope(
        [
            ("good-1", CloudEvent(BatchJson(Batch("b-1", "GPU-r1")))),
            ("good-2", CloudEvent(BatchJson(Batch("b-2", "GPU-r2")))),
            ("poison", CloudEvent(JsonValue.Create(true))),
        ]), "application/json");
        var statuses = answer["statuses"]!.AsArray().ToDictionary(s => (string)s!["entryId"]!, s => (string)s!["status"]!);
        Assert.Equal(new Dictionary<string, string> { ["good-1"] = "RETRY", ["good-2"] = "RETRY", ["poison"] = "DROP" }, statuses);

        var single = await PostAsync(app, CloudEvent(BatchJson(Batch("b-3", "GPU-r3"))), "application/cloudevents+json");
        Assert.Equal("RETRY", (string)single["status"]!);
    }

    [Fact]
    public async Task With_an_app_api_token_only_the_sidecar_may_deliver()
    {
        await using var host = Collector(new MemoryKeyValueStore(), new() { ["APP_API_TOKEN"] = "s3cret", ["LOG_LEVEL"] = "Critical" });
        using var app = host.ClientOn(BrokerPort);
        var envelope = CloudEvent(BatchJson(Batch("b-1", "GPU-token")));

        await PostAsync(app, envelope, "application/cloudevents+json", HttpStatusCode.Unauthorized);
        app.DefaultRequestHeaders.Add("dapr-api-token", "wrong");
        await PostAsync(app, envelope, "application/cloudevents+json", HttpStatusCode.Unauthorized);
        Assert.Equal(0, await StoredAsync(host.Services, "GPU-token"));

        app.DefaultRequestHeaders.Remove("dapr-api-token");
        app.DefaultRequestHeaders.Add("dapr-api-token", "s3cret");
        var answer = await PostAsync(app, envelope, "application/cloudevents+json");
        Assert.Equal("SUCCESS", (string)answer["status"]!);
        Assert.Equal(2, await StoredAsync(host.Services, "GPU-token"));
    }

    [Fact]
    public async Task Liveness_answers_on_the_health_port_and_delivery_only_on_the_app_port()
    {
        await using var host = Collector(new MemoryKeyValueStore());
        using var health = host.ClientOn(HealthPort);
        using var live = await health.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        using var content = new StringContent(CloudEvent(BatchJson(Batch("b-1", "GPU-port"))).ToJsonString(), Encoding.UTF8, "application/cloudevents+json");
        using var wrongPort = await health.PostAsync(Route, content);
        Assert.Equal(HttpStatusCode.NotFound, wrongPort.StatusCode);
        Assert.Equal(0, await StoredAsync(host.Services, "GPU-port"));
    }

    /// <summary>A bulk delivery as daprd posts it: plain JSON whose entries hold whole CloudEvents.</summary>
    private static JsonObject BulkEnvelope(IEnumerable<(string Id, JsonNode? Event)> entries) => new()
    {
        ["entries"] = new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
        {
            ["entryId"] = e.Id,
            ["event"] = e.Event,
            ["contentType"] = "application/cloudevents+json",
            ["metadata"] = new JsonObject(),
        })]),
        ["id"] = Guid.NewGuid().ToString(),
        ["pubsubname"] = "telemetry-pubsub",
        ["topic"] = "telemetry",
        ["type"] = "com.dapr.event.sent.bulk",
        ["metadata"] = new JsonObject(),
    };
}
