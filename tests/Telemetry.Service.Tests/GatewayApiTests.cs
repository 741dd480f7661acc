using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Service.Tests.Support;
using static Telemetry.Service.Tests.Support.Http;

namespace Telemetry.Service.Tests;

/// <summary>The embedded host with an in-memory store, seeded through the collector's own sink (so
/// validation and metrics run), and a header-only CSV so the streamer adds nothing.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public static readonly DateTime T0 = new(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);
    public static readonly string[] Metrics = ["DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE"];

    /// <summary>GPU-a0 has <see cref="Steps"/> instants with all three metrics at each (ties on time), plus one
    /// sample at a sub-microsecond instant.</summary>
    public const int Steps = 10;
    public static readonly DateTime OddInstant = T0.AddSeconds(Steps).AddTicks(1234567);
    public const int A0Samples = Steps * 3 + 1;

    // Deliberately registered out of order: listing must sort by hostname, then numeric GPU index.
    public static readonly GpuIdentity[] Gpus =
    [
        Gpu("GPU-b1", "host-b", 1), Gpu("GPU-a10", "host-a", 10), Gpu("GPU-c0", "host-c", 0),
        Gpu("GPU-a2", "host-a", 2), Gpu("GPU-b0", "host-b", 0), Gpu("GPU-a0", "host-a", 0),
    ];
    public static readonly string[] ExpectedOrder = ["GPU-a0", "GPU-a2", "GPU-a10", "GPU-b0", "GPU-b1", "GPU-c0"];

    private readonly TempDirectory _dir = new();

    public EmbeddedFactory Factory { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public double StoredBefore { get; private set; }

    public async Task InitializeAsync()
    {
        StoredBefore = Telemetry.Hosting.TelemetryMetrics.SamplesStored.Value;
        Factory = new EmbeddedFactory(EmbeddedFactory.Quiet(_dir.File("empty.csv", Dcgm.File([]))));
        Api = Factory.ClientOn(EmbeddedFactory.ApiPort);
        var sink = Factory.Services.GetRequiredService<IBatchSink>();
        var groups = new List<GpuSamples>();
        foreach (var gpu in Gpus)
        {
            var samples = new List<MetricSample>();
            if (gpu.Uuid == "GPU-a0")
            {
                for (var step = 0; step < Steps; step++)
                {
                    foreach (var metric in Metrics) samples.Add(new(T0.AddSeconds(step), metric, step * 10 + Array.IndexOf(Metrics, metric), T0));
                }
                samples.Add(new(OddInstant, "DCGM_FI_DEV_GPU_UTIL", 99.5, null));
                samples.Reverse(); // the store orders them, not the publisher
            }
            else
            {
                samples.Add(new(T0, "DCGM_FI_DEV_GPU_UTIL", gpu.GpuIndex, T0));
                samples.Add(new(T0.AddSeconds(1), "DCGM_FI_DEV_GPU_UTIL", gpu.GpuIndex, T0));
            }
            groups.Add(new GpuSamples(gpu, samples));
        }
        var result = await sink.IngestAsync(new TelemetryBatch("seed-1", groups), CancellationToken.None);
        Assert.Equal(A0Samples + 2 * (Gpus.Length - 1), result.Stored);
    }

    public async Task DisposeAsync()
    {
        Api.Dispose();
        await Factory.DisposeAsync();
        _dir.Dispose();
    }

    private static GpuIdentity Gpu(string uuid, string host, int index) =>
        new(uuid, host, index, $"nvidia{index}", "NVIDIA H100 80GB HBM3");
}

public sealed class GatewayApiTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private HttpClient Api => fixture.Api;

    private static string Iso(DateTime time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    // ---------- GET /api/v1/gpus ----------

    [Fact]
    public async Task Gpus_list_has_the_documented_shape_and_is_ordered_by_hostname_then_index()
    {
        var body = await Api.GetJsonAsync("/api/v1/gpus");
        Assert.Equal(GatewayFixture.ExpectedOrder, body["gpus"].Items(g => (string)g["id"]!));
        Assert.Equal(6, (int)body["total"]!);
        var pagination = body["pagination"]!;
        Assert.Equal(100, (int)pagination["limit"]!);
        Assert.Equal(0, (int)pagination["offset"]!);
        Assert.False((bool)pagination["has_next"]!);

        var a0 = body["gpus"]![0]!.AsObject();
        foreach (var field in new[] { "id", "uuid", "hostname", "gpu_index", "device", "model", "first_seen", "last_seen", "samples" })
        {
            Assert.True(a0.ContainsKey(field), $"gpu lacks '{field}': {a0}");
        }
        Assert.Equal("GPU-a0", (string)a0["uuid"]!);
        Assert.Equal("host-a", (string)a0["hostname"]!);
        Assert.Equal(0, (int)a0["gpu_index"]!);
        Assert.Equal("nvidia0", (string)a0["device"]!);
        Assert.Equal("NVIDIA H100 80GB HBM3", (string)a0["model"]!);
        Assert.Equal(GatewayFixture.A0Samples, (int)a0["samples"]!);
        Assert.Equal(GatewayFixture.T0, DateTime.Parse((string)a0["first_seen"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal));
        Assert.Equal(GatewayFixture.OddInstant, DateTime.Parse((string)a0["last_seen"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal));
    }

    [Fact]
    public async Task Gpus_list_pages_with_limit_and_offset_without_gaps()
    {
        var seen = new List<string>();
        var hasNext = new List<bool>();
        for (var offset = 0; offset < 6; offset += 4)
        {
            var body = await Api.GetJsonAsync($"/api/v1/gpus?limit=4&offset={offset}");
            Assert.Equal(6, (int)body["total"]!);
            Assert.Equal(4, (int)body["pagination"]!["limit"]!);
            Assert.Equal(offset, (int)body["pagination"]!["offset"]!);
            hasNext.Add((bool)body["pagination"]!["has_next"]!);
            seen.AddRange(body["gpus"].Items(g => (string)g["id"]!));
        }
        Assert.Equal(GatewayFixture.ExpectedOrder, seen);
        Assert.Equal([true, false], hasNext);

        var beyond = await Api.GetJsonAsync("/api/v1/gpus?offset=50");
        Assert.Empty(beyond["gpus"]!.AsArray());
        Assert.Equal(6, (int)beyond["total"]!);
        Assert.False((bool)beyond["pagination"]!["has_next"]!);

        var max = await Api.GetJsonAsync("/api/v1/gpus?limit=1000");
        Assert.Equal(1000, (int)max["pagination"]!["limit"]!);
        Assert.Equal(6, max["gpus"]!.AsArray().Count);
    }

    [Fact]
    public async Task Gpus_list_filters_by_hostname()
    {
        var body = await Api.GetJsonAsync("/api/v1/gpus?hostname=host-a");
        Assert.Equal(["GPU-a0", "GPU-a2", "GPU-a10"], body["gpus"].Items(g => (string)g["id"]!));
        Assert.Equal(3, (int)body["total"]!);

        var paged = await Api.GetJsonAsync("/api/v1/gpus?hostname=host-a&limit=2&offset=1");
        Assert.Equal(["GPU-a2", "GPU-a10"], paged["gpus"].Items(g => (string)g["id"]!));
        Assert.False((bool)paged["pagination"]!["has_next"]!);

        var none = await Api.GetJsonAsync("/api/v1/gpus?hostname=HOST-A");
        Assert.Empty(none["gpus"]!.AsArray());
        Assert.Equal(0, (int)none["total"]!);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=abc", "offset")]
    [InlineData("offset=99999999999", "offset")]
    public async Task Gpus_list_rejects_bad_paging_with_a_400_naming_the_parameter(string query, string parameter)
    {
        var detail = await Api.GetProblemAsync($"/api/v1/gpus?{query}", HttpStatusCode.BadRequest);
        Assert.StartsWith(parameter, detail);
        // Same rules for one host's GPUs.
        var hostDetail = await Api.GetProblemAsync($"/api/v1/hosts/host-a/gpus?{query}", HttpStatusCode.BadRequest);
        Assert.StartsWith(parameter, hostDetail);
    }

    // ---------- GET /api/v1/gpus/{id} ----------

    [Fact]
    public async Task Gpu_by_id_returns_the_gpu()
    {
        var gpu = await Api.GetJsonAsync("/api/v1/gpus/GPU-b1");
        Assert.Equal("GPU-b1", (string)gpu["id"]!);
        Assert.Equal("host-b", (string)gpu["hostname"]!);
        Assert.Equal(1, (int)gpu["gpu_index"]!);
        Assert.Equal(2, (int)gpu["samples"]!);
    }

    [Fact]
    public async Task Unknown_gpu_is_a_404_problem_naming_it()
    {
        var detail = await Api.GetProblemAsync("/api/v1/gpus/GPU-nope", HttpStatusCode.NotFound);
        Assert.Contains("GPU-nope", detail);
        var telemetryDetail = await Api.GetProblemAsync("/api/v1/gpus/GPU-nope/telemetry", HttpStatusCode.NotFound);
        Assert.Contains("GPU-nope", telemetryDetail);
    }

    // ---------- GET /api/v1/gpus/{id}/telemetry ----------

    [Fact]
    public async Task Telemetry_has_the_documented_shape_in_time_order()
    {
        var body = await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry");
        var data = body["data"]!.AsArray();
        Assert.Equal(GatewayFixture.A0Samples, data.Count);
        Assert.Equal(1000, (int)body["pagination"]!["limit"]!);
        Assert.Null(body["pagination"]!["next_cursor"]);
        Assert.True(body["pagination"]!.AsObject().ContainsKey("next_cursor"), "next_cursor is present (null) on the last page");

        var first = data[0]!.AsObject();
        foreach (var field in new[] { "timestamp", "metric_name", "value", "source_timestamp" }) Assert.True(first.ContainsKey(field), field);
        Assert.Equal("2025-07-18T20:42:34Z", (string)first["timestamp"]!);
        Assert.Equal("DCGM_FI_DEV_GPU_TEMP", (string)first["metric_name"]!);
        Assert.Equal(0.0, (double)first["value"]!);
        Assert.Equal("2025-07-18T20:42:34Z", (string)first["source_timestamp"]!);
        Assert.Null(data[^1]!["source_timestamp"]);

        var times = data.Select(p => DateTime.Parse((string)p!["timestamp"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal)).ToList();
        Assert.Equal(times.Order().ToList(), times);
        Assert.Equal(GatewayFixture.OddInstant, times[^1]);
    }

    [Fact]
    public async Task Telemetry_start_and_end_are_inclusive_at_exact_sample_times()
    {
        var t0 = GatewayFixture.T0;
        var body = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{Query(("start_time", Iso(t0.AddSeconds(3))), ("end_time", Iso(t0.AddSeconds(6))))}");
        var times = body["data"].Items(p => (string)p["timestamp"]!);
        Assert.Equal(12, times.Length);
        Assert.Equal(Iso(t0.AddSeconds(3)), times[0]);
        Assert.Equal(Iso(t0.AddSeconds(6)), times[^1]);

        // start == end: exactly the samples at that instant, even at 100 ns resolution.
        var odd = Iso(GatewayFixture.OddInstant);
        var one = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{Query(("start_time", odd), ("end_time", odd))}");
        Assert.Equal([odd], one["data"].Items(p => (string)p["timestamp"]!));

        // Only one bound; and an offset other than Z means the same instant.
        var from = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{Query(("start_time", "2025-07-18T22:42:43+02:00"))}");
        Assert.Equal(4, from["data"]!.AsArray().Count); // step 9 (three metrics) and the odd instant
        var to = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{Query(("end_time", Iso(t0)))}");
        Assert.Equal(3, to["data"]!.AsArray().Count);

        var empty = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{Query(("start_time", "2030-01-01T00:00:00Z"))}");
        Assert.Empty(empty["data"]!.AsArray());
        Assert.Null(empty["pagination"]!["next_cursor"]);
    }

    [Fact]
    public async Task Telemetry_metric_filter_is_repeatable()
    {
        var one = await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry?metric=DCGM_FI_DEV_GPU_TEMP");
        Assert.Equal(GatewayFixture.Steps, one["data"]!.AsArray().Count);
        Assert.All(one["data"]!.AsArray(), p => Assert.Equal("DCGM_FI_DEV_GPU_TEMP", (string)p!["metric_name"]!));

        var two = await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry?metric=DCGM_FI_DEV_GPU_TEMP&metric=DCGM_FI_DEV_GPU_UTIL");
        Assert.Equal(2 * GatewayFixture.Steps + 1, two["data"]!.AsArray().Count);
        Assert.Equal(["DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_UTIL"], two["data"].Items(p => (string)p["metric_name"]!).Distinct().Order());

        var none = await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry?metric=NO_SUCH_METRIC");
        Assert.Empty(none["data"]!.AsArray());

        await Api.GetProblemAsync("/api/v1/gpus/GPU-a0/telemetry?metric=", HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(31)]
    public async Task Telemetry_cursor_paging_walks_everything_once(int limit)
    {
        var all = (await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry")).AsObject()["data"]!.AsArray()
            .Select(p => ((string)p!["timestamp"]!, (string)p["metric_name"]!)).ToList();
        var walked = new List<(string, string)>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var path = $"/api/v1/gpus/GPU-a0/telemetry?limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await Api.GetJsonAsync(path);
            var data = page["data"]!.AsArray();
            Assert.Equal(limit, (int)page["pagination"]!["limit"]!);
            cursor = (string?)page["pagination"]!["next_cursor"];
            Assert.True(data.Count == limit || cursor is null, $"a short page must be the last (page {pages})");
            Assert.NotEmpty(data);
            walked.AddRange(data.Select(p => ((string)p!["timestamp"]!, (string)p["metric_name"]!)));
            Assert.True(++pages <= all.Count, "paging does not end");
        }
        while (cursor is not null);
        Assert.Equal(all, walked);
        Assert.Equal((all.Count + limit - 1) / limit, pages);
    }

    [Fact]
    public async Task Telemetry_cursor_paging_combines_with_filters()
    {
        var filter = Query(("metric", "DCGM_FI_DEV_POWER_USAGE"), ("start_time", Iso(GatewayFixture.T0.AddSeconds(2))));
        var walked = new List<double>();
        string? cursor = null;
        do
        {
            var page = await Api.GetJsonAsync($"/api/v1/gpus/GPU-a0/telemetry?{filter}&limit=3" + (cursor is null ? "" : $"&cursor={cursor}"));
            walked.AddRange(page["data"].Items(p => (double)p["value"]!));
            cursor = (string?)page["pagination"]!["next_cursor"];
        }
        while (cursor is not null);
        Assert.Equal(Enumerable.Range(2, GatewayFixture.Steps - 2).Select(step => step * 10.0 + 2), walked);
    }

    [Fact]
    public async Task Telemetry_limit_defaults_to_1000_and_allows_up_to_10000()
    {
        var max = await Api.GetJsonAsync("/api/v1/gpus/GPU-a0/telemetry?limit=10000");
        Assert.Equal(10000, (int)max["pagination"]!["limit"]!);
        Assert.Equal(GatewayFixture.A0Samples, max["data"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("start_time=yesterday", "start_time")]
    [InlineData("end_time=2025-13-45T99:00:00Z", "end_time")]
    [InlineData("start_time=2025-07-18T20:42:40Z&end_time=2025-07-18T20:42:39Z", "start_time")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("cursor=not-a-cursor!!", "cursor")]
    [InlineData("cursor=aGVsbG8", "cursor")] // base64url of "hello": decodes, but is no position
    [InlineData("cursor=", "cursor")]
    public async Task Telemetry_rejects_bad_queries_with_a_400_naming_the_parameter(string query, string parameter)
    {
        var detail = await Api.GetProblemAsync($"/api/v1/gpus/GPU-a0/telemetry?{query}", HttpStatusCode.BadRequest);
        Assert.StartsWith(parameter, detail);
    }

    // ---------- hosts ----------

    [Fact]
    public async Task Hosts_list_counts_gpus_per_host()
    {
        var body = await Api.GetJsonAsync("/api/v1/hosts");
        Assert.Equal(3, (int)body["total"]!);
        Assert.Equal(["host-a:3", "host-b:2", "host-c:1"], body["hosts"].Items(h => $"{(string)h["hostname"]!}:{(int)h["gpu_count"]!}"));
    }

    [Fact]
    public async Task Host_gpus_are_ordered_by_index_and_unknown_host_is_404()
    {
        var body = await Api.GetJsonAsync("/api/v1/hosts/host-a/gpus");
        Assert.Equal(["GPU-a0", "GPU-a2", "GPU-a10"], body["gpus"].Items(g => (string)g["id"]!));
        Assert.Equal(3, (int)body["total"]!);
        var page = await Api.GetJsonAsync("/api/v1/hosts/host-a/gpus?limit=1&offset=1");
        Assert.Equal(["GPU-a2"], page["gpus"].Items(g => (string)g["id"]!));
        Assert.True((bool)page["pagination"]!["has_next"]!);

        var detail = await Api.GetProblemAsync("/api/v1/hosts/host-zzz/gpus", HttpStatusCode.NotFound);
        Assert.Contains("host-zzz", detail);
    }

    // ---------- health, OpenAPI, UI, metrics ----------

    [Fact]
    public async Task Health_and_readiness_answer_200()
    {
        using var live = await Api.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await Api.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_document_lists_every_path_and_the_ui_answers()
    {
        var document = await Api.GetJsonAsync("/openapi/v1.json");
        var paths = document["paths"]!.AsObject().Select(p => p.Key).Order().ToArray();
        Assert.Equal(
            ["/api/v1/gpus", "/api/v1/gpus/{id}", "/api/v1/gpus/{id}/series", "/api/v1/gpus/{id}/telemetry", "/api/v1/hosts", "/api/v1/hosts/{hostname}/gpus", "/api/v1/imports", "/api/v1/imports/{id}", "/api/v1/status"],
            paths);
        var telemetryParameters = document["paths"]!["/api/v1/gpus/{id}/telemetry"]!["get"]!["parameters"].Items(p => (string)p["name"]!);
        Assert.Equal(["cursor", "end_time", "id", "limit", "metric", "start_time"], telemetryParameters.Order());

        // Scalar sends /swagger on to /swagger/ (so its relative asset paths resolve); a browser follows.
        using var browser = fixture.Factory.CreateClient();
        using var ui = await browser.GetAsync("/swagger");
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("text/html", ui.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Metrics_are_served_on_the_metrics_port_only()
    {
        using var metrics = fixture.Factory.ClientOn(EmbeddedFactory.MetricsPort);
        var text = await PrometheusText.ScrapeAsync(metrics);
        foreach (var name in new[] { "telemetry_samples_stored_total", "telemetry_rows_read_total", "telemetry_duplicates_dropped_total", "telemetry_queue_depth" })
        {
            Assert.NotNull(PrometheusText.Sum(text, name));
        }
        // The seed went through the collector's sink, which counts what it stored (other hosts in this process
        // share the counter, so only a lower bound holds).
        Assert.True(PrometheusText.Sum(text, "telemetry_samples_stored_total") - fixture.StoredBefore >= GatewayFixture.A0Samples + 10);
        // Every window write is observed, and API requests are timed.
        Assert.True(PrometheusText.Sum(text, "telemetry_window_samples_count") > 0);
        Assert.Contains("http_request_duration_seconds", text);

        using var onApi = await Api.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, onApi.StatusCode);
    }
}
