using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Collector;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Hosting;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// Deliveries that can never be processed — not JSON, the wrong schema, wrong types, nested past any sane
/// depth, megabytes of junk, bigger than the delivery limit — are answered DROP (Dapr sends them to the
/// dead-letter topic), counted in telemetry_messages_dropped_total, and the collector goes on storing good
/// deliveries.
/// </summary>
public sealed class PoisonMessageTests(ITestOutputHelper output)
{
    private static readonly string[] Reasons = ["undecodable", "wrong_schema", "too_large"];

    [Fact]
    [Trait("Category", "Fault")]
    public async Task Poison_deliveries_are_dropped_and_counted_and_good_ones_still_stored()
    {
        var store = new MemoryKeyValueStore();
        await using var factory = new WebApplicationFactory<CollectorProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("LOG_LEVEL", "Critical");
            builder.UseEnvironment("Production"); // as deployed: no developer exception page
            builder.ConfigureTestServices(services => services.AddSingleton<IKeyValueStore>(store));
        });
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("http://localhost:9000") });

        Assert.Equal("SUCCESS", await DeliverAsync(client, Good("GPU-before", 0), "application/json"));

        var poison = new List<(string Name, byte[] Body, string ContentType)>
        {
            ("not JSON", "{{{ nope"u8.ToArray(), "application/json"),
            ("empty body", [], "application/json"),
            ("JSON null", "null"u8.ToArray(), "application/json"),
            ("a number", "42"u8.ToArray(), "application/json"),
            ("wrong schema", """{"hello":"world"}"""u8.ToArray(), "application/json"),
            ("wrong types", """{"batch_id":5,"gpus":"many"}"""u8.ToArray(), "application/json"),
            ("wrong types inside", """{"batch_id":"b","gpus":[{"gpu":{"uuid":7,"hostname":[]},"samples":[{"timestamp":"yesterday","metric_name":1,"value":"high"}]}]}"""u8.ToArray(), "application/json"),
            ("missing samples", """{"batch_id":"b","gpus":[{"gpu":{"uuid":"GPU-1","hostname":"h","gpu_index":0,"device":"d","model":"m"}}]}"""u8.ToArray(), "application/json"),
            ("deeply nested", Encoding.ASCII.GetBytes(new string('[', 100_000) + new string(']', 100_000)), "application/json"),
            ("deeply nested inside a batch", Encoding.ASCII.GetBytes("""{"batch_id":"b","gpus":""" + new string('[', 5000) + new string(']', 5000) + "}"), "application/json"),
            ("6 MB of junk", Encoding.ASCII.GetBytes("[" + string.Join(',', Enumerable.Repeat("1234567", 6 * 1024 * 1024 / 8)) + "]"), "application/json"),
            ("6 MB string as data", Encoding.ASCII.GetBytes("\"" + new string('x', 6 * 1024 * 1024) + "\""), "application/json"),
            ("over the delivery limit", new byte[SubscriptionEndpoints.MaxDeliveryBytes + 1], "application/json"),
            ("CloudEvent that is not JSON", "{\"specversion\":"u8.ToArray(), "application/cloudevents+json"),
            ("CloudEvent with a wrong data", Encoding.UTF8.GetBytes("""{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json","data":{"x":1}}"""), "application/cloudevents+json"),
        };
        var before = DroppedTotal();
        var answers = new List<string>();
        foreach (var (name, body, contentType) in poison)
        {
            var answer = await DeliverAsync(client, body, contentType);
            answers.Add($"{name}: {answer}");
            Assert.True(answer == "DROP", $"{name} was answered {answer}");
        }

        // A bulk delivery mixing poison with a good entry: only the poison is dropped.
        var bulk = $$$"""
            {"id":"bulk-1","topic":"telemetry","pubsubname":"telemetry-pubsub","entries":[
              {"entryId":"good","event":{"data":{{{Encoding.UTF8.GetString(Good("GPU-bulk", 1))}}}},"contentType":"application/cloudevents+json"},
              {"entryId":"no-event","contentType":"application/json"},
              {"entryId":"bad-schema","event":{"data":{"nope":true}},"contentType":"application/cloudevents+json"},
              {"entryId":"bad-type","event":{"data":[1,2,3]},"contentType":"application/cloudevents+json"}
            ]}
            """;
        using var bulkResponse = await client.PostAsync(SubscriptionEndpoints.Route, new StringContent(bulk, Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)bulkResponse.StatusCode);
        using var bulkJson = JsonDocument.Parse(await bulkResponse.Content.ReadAsStringAsync());
        var statuses = bulkJson.RootElement.GetProperty("statuses").EnumerateArray()
            .ToDictionary(s => s.GetProperty("entryId").GetString()!, s => s.GetProperty("status").GetString()!);
        Assert.Equal("SUCCESS", statuses["good"]);
        Assert.Equal("DROP", statuses["no-event"]);
        Assert.Equal("DROP", statuses["bad-schema"]);
        Assert.Equal("DROP", statuses["bad-type"]);

        var dropped = DroppedTotal() - before;
        Assert.Equal(poison.Count + 3, dropped);

        // Still serving: a good delivery after all that is stored.
        Assert.Equal("SUCCESS", await DeliverAsync(client, Good("GPU-after", 2), "application/json"));
        var reader = new WindowReader(store);
        foreach (var uuid in new[] { "GPU-before", "GPU-bulk", "GPU-after" })
        {
            Assert.True(await reader.GetGpuAsync(uuid) is { Samples: 1 }, $"{uuid} was not stored");
        }
        output.WriteLine($"FIGURE poison: {poison.Count + 3} poison messages ({poison.Count} single, 3 bulk entries) answered DROP and counted " +
                         $"in telemetry_messages_dropped_total (+{dropped:F0}); 3 good deliveries around them stored; collector kept serving");
        foreach (var line in answers) output.WriteLine("  " + line);
    }

    private static double DroppedTotal() => Reasons.Sum(reason => TelemetryMetrics.MessagesDropped.WithLabels(reason).Value);

    private static byte[] Good(string uuid, int index) => TelemetryJson.Serialize(new TelemetryBatch($"batch-{uuid}",
    [
        new GpuSamples(new GpuIdentity(uuid, "host-1", index, $"nvidia{index}", "NVIDIA H100 80GB HBM3"),
            [new MetricSample(DateTime.UtcNow, "DCGM_FI_DEV_GPU_UTIL", 42, null)]),
    ]));

    private static async Task<string> DeliverAsync(HttpClient client, byte[] body, string contentType)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await client.PostAsync(SubscriptionEndpoints.Route, content);
        var text = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode != 200) return $"HTTP {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}";
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("status").GetString()!;
    }
}
