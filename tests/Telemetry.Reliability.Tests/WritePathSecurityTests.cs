using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Storage;
using Telemetry.Gateway;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// Issue 15's probes of the write path, through the embedded host in memory: who may import, cross-site form
/// posts, what an imported row may not change, and the bounds on uploads.
/// </summary>
public sealed class WritePathSecurityTests
{
    private const string Key = "write-path-test-key";
    private const string Gpu = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50"; // gpu 0 of mtv5-dgx1-hgpu-031 in tiny.csv
    private const string Header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

    private static MultipartFormDataContent Form(string csv)
    {
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        return new MultipartFormDataContent { { new StringContent("replay"), "mode" }, { file, "file", "upload.csv" } };
    }

    private static string Row(DateTime time, string host = "mtv5-dgx1-hgpu-031", string model = "NVIDIA H100 80GB HBM3", string metric = "DCGM_FI_DEV_GPU_TEMP") =>
        $"\"{time:yyyy-MM-ddTHH:mm:ss.fffffffZ}\",\"{metric}\",\"0\",\"nvidia0\",\"{Gpu}\",\"{model}\",\"{host}\",\"\",\"\",\"\",\"42\",\"\"";

    private static HttpRequestMessage Upload(string csv, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/imports") { Content = Form(csv) };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    private static string SmallCsv => $"{Header}\n{Row(new DateTime(2025, 7, 18, 20, 0, 0, DateTimeKind.Utc))}\n";

    [Fact]
    public async Task Imports_are_closed_without_a_key_or_imports_enabled()
    {
        await using var factory = new EmbeddedFactory();
        using var client = factory.CreateClient();

        using var post = await client.SendAsync(Upload(SmallCsv));
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Equal("application/problem+json", post.Content.Headers.ContentType?.MediaType);
        Assert.Contains("IMPORTS_ENABLED", await post.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, (await client.DeleteAsync("/api/v1/imports/anything")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/imports")).StatusCode); // reading stays open

        await using var disabled = new EmbeddedFactory(new Dictionary<string, string> { ["API_KEY"] = Key, ["IMPORTS_ENABLED"] = "false" });
        using var keyed = disabled.CreateClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await keyed.SendAsync(Upload(SmallCsv, ("X-API-Key", Key)))).StatusCode);
    }

    [Fact]
    public async Task The_dapr_mode_gateway_closes_imports_the_same_way()
    {
        await using var factory = new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("LOG_LEVEL", "Critical");
            builder.ConfigureTestServices(services => services.AddSingleton<IKeyValueStore>(new MemoryKeyValueStore()));
        });
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("http://localhost:8081") });
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(Upload(SmallCsv))).StatusCode);
    }

    [Fact]
    public async Task With_a_key_imports_need_it_and_a_same_origin_dashboard_upload_passes()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string> { ["API_KEY"] = Key });
        using var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Upload(SmallCsv))).StatusCode);
        // The dashboard served by the gateway, uploading from a browser with the key the user typed.
        using var browser = await client.SendAsync(Upload(SmallCsv, ("X-Api-Key", Key), ("Origin", "http://localhost"), ("Sec-Fetch-Site", "same-origin")));
        Assert.Equal(HttpStatusCode.Accepted, browser.StatusCode);
        // An older browser sends only Origin.
        using var older = await client.SendAsync(Upload(SmallCsv, ("X-API-Key", Key), ("Origin", "http://localhost")));
        Assert.Equal(HttpStatusCode.Accepted, older.StatusCode);
        using var script = await client.SendAsync(Upload(SmallCsv, ("X-API-Key", Key)));
        Assert.Equal(HttpStatusCode.Accepted, script.StatusCode);
    }

    [Fact]
    public async Task Cross_site_form_posts_and_cancels_are_refused_even_on_a_trusted_network()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["IMPORTS_ENABLED"] = "true",
            ["CORS_ORIGINS"] = "https://dash.example.com, *",
        });
        using var client = factory.CreateClient();

        (string, string)[][] crossSite =
        [
            [("Origin", "https://evil.example.com"), ("Sec-Fetch-Site", "cross-site")],
            [("Origin", "https://evil.example.com")],
            [("Origin", "null")],
            [("Origin", "https://sub.localhost"), ("Sec-Fetch-Site", "same-site")],
            [("Sec-Fetch-Site", "cross-site")],
        ];
        foreach (var headers in crossSite)
        {
            using var refused = await client.SendAsync(Upload(SmallCsv, headers));
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{string.Join(", ", headers)} → {(int)refused.StatusCode}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
        using var cancel = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/imports/some-id");
        cancel.Headers.Add("Origin", "https://evil.example.com");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(cancel)).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Upload(SmallCsv))).StatusCode); // curl: no browser headers
        Assert.Equal(HttpStatusCode.Accepted,
            (await client.SendAsync(Upload(SmallCsv, ("Origin", "https://dash.example.com"), ("Sec-Fetch-Site", "cross-site")))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted,
            (await client.SendAsync(Upload(SmallCsv, ("Origin", "http://localhost"), ("Sec-Fetch-Site", "same-origin")))).StatusCode);
    }

    [Fact]
    public async Task Imported_rows_cannot_rename_a_gpu_or_sit_in_the_future()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string> { ["IMPORTS_ENABLED"] = "true" });
        using var client = factory.CreateClient();
        var before = await WaitForGpuAsync(client);

        var now = DateTime.UtcNow;
        var csv = new StringBuilder(Header).Append('\n');
        csv.Append(Row(now.AddHours(-1), host: "attacker-host", model: "FAKE GPU")).Append('\n');
        for (var i = 0; i < 10_000; i++) csv.Append(Row(now.AddHours(23).AddTicks(i))).Append('\n');
        csv.Append(Row(now.AddHours(-1), metric: "DCGM_FI_DEV_POWER_USAGE")).Append('\n'); // the one good row
        using var response = await client.SendAsync(Upload(csv.ToString()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var done = await WaitForFinalAsync(client, response.Headers.Location!.ToString());

        Assert.Equal("completed", (string)done["status"]!);
        Assert.Equal(10_001, (long)done["rows_rejected"]!);
        Assert.Equal(1, (long)done["samples_published"]!);
        var reasons = done["rejections"]!.AsArray().Select(r => (string)r!["reason"]!).ToList();
        Assert.Contains("cannot change a GPU's host or model", reasons[0]);
        Assert.Contains("ahead of this server's clock", reasons[1]);

        var after = await client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}");
        Assert.Equal((string)before["hostname"]!, (string)after!["hostname"]!);
        Assert.Equal((string)before["model"]!, (string)after["model"]!);
        Assert.Equal((int)before["samples"]! + 1, (int)after["samples"]!);
        Assert.True((DateTime)after["last_seen"]! < DateTime.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task Uploads_beyond_the_queue_bound_get_429_with_retry_after()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["IMPORTS_ENABLED"] = "true",
            ["IMPORT_MAX_QUEUED"] = "1",
            ["IMPORT_CHUNK_BYTES"] = "1024",
            ["IMPORT_BATCH_SIZE"] = "1",
        }, CountingSink.Install(TimeSpan.FromMilliseconds(200), _ => { }));
        using var client = factory.CreateClient();

        // 40 rows, one sample per batch, 200 ms per batch: the first import runs for about 8 s.
        var csv = new StringBuilder(Header).Append('\n');
        for (var i = 0; i < 40; i++) csv.Append(Row(new DateTime(2025, 7, 1, 0, 0, i, DateTimeKind.Utc))).Append('\n');
        using var first = await client.SendAsync(Upload(csv.ToString()));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        using var second = await client.SendAsync(Upload(SmallCsv));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.True(second.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After is set");
        Assert.Contains("IMPORT_MAX_QUEUED", await second.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync(first.Headers.Location)).StatusCode);
        await WaitForFinalAsync(client, first.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Upload(SmallCsv))).StatusCode);
    }

    internal static async Task<JsonObject> WaitForGpuAsync(HttpClient client)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            using var response = await client.GetAsync($"/api/v1/gpus/{Gpu}");
            if (response.IsSuccessStatusCode) return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            await Task.Delay(50);
        }
        throw new TimeoutException($"{Gpu} never appeared");
    }

    private static async Task<JsonObject> WaitForFinalAsync(HttpClient client, string location)
    {
        for (var attempt = 0; attempt < 1200; attempt++)
        {
            var status = (await client.GetFromJsonAsync<JsonObject>(location))!;
            if ((string)status["status"]! is "completed" or "failed" or "cancelled") return status;
            await Task.Delay(50);
        }
        throw new TimeoutException($"{location} did not finish");
    }
}
