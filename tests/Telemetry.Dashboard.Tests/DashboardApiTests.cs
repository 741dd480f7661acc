using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Gateway;
using Telemetry.Hosting.Status;

namespace Telemetry.Dashboard.Tests;

/// <summary>One embedded host holding the reference file plus one GPU with a long, random window.</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public static readonly GpuIdentity Seeded = new("GPU-dashboard-series-0001", "series-host", 0, "nvidia0", "NVIDIA H100 80GB HBM3");
    public static readonly string[] SeededMetrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED"];

    public DashboardHost Host { get; } = new();
    public List<MetricSample> SeededSamples { get; } = [];

    public async Task InitializeAsync()
    {
        await Host.WaitForReferenceAsync();
        // 2,000 instants a little over a second apart (random jitter), four metrics each: 8,000 samples.
        var random = new Random(12);
        var start = DateTime.UtcNow.AddHours(-1);
        var time = start;
        for (var i = 0; i < 2000; i++)
        {
            time = time.AddTicks(TimeSpan.TicksPerSecond + random.Next(0, 5_000_000));
            foreach (var metric in SeededMetrics) SeededSamples.Add(new MetricSample(time, metric, Math.Round(random.NextDouble() * 100, 3), null));
        }
        await Host.StoreAsync(Seeded, SeededSamples);
    }

    public Task DisposeAsync() => Host.DisposeAsync().AsTask();
}

public sealed class DashboardApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private HttpClient Client => fixture.Host.Client;

    [Theory]
    [InlineData(null, null, 1)]
    [InlineData(null, null, 500)]
    [InlineData(null, null, 10_000)]
    [InlineData(300, 900, 7)]
    [InlineData(0, 1999, 333)]
    [InlineData(1000, 1000, 50)]
    public async Task Series_buckets_add_up_to_the_raw_samples_and_keep_their_extremes(int? fromIndex, int? toIndex, int points)
    {
        var instants = fixture.SeededSamples.Select(s => s.Timestamp).Distinct().ToList();
        DateTime? start = fromIndex is { } f ? instants[f] : null;
        DateTime? end = toIndex is { } t ? instants[t] : null;
        var range = (start is null ? "" : $"&start_time={Iso(start.Value)}") + (end is null ? "" : $"&end_time={Iso(end.Value)}");
        var series = await Client.GetFromJsonNodeAsync($"/api/v1/gpus/{ApiHostFixture.Seeded.Uuid}/series?points={points}{range}");

        var first = start ?? instants[0];
        var last = end ?? instants[^1];
        Assert.Equal(first, (DateTime)series["start_time"]!);
        Assert.Equal(last, (DateTime)series["end_time"]!);
        var width = TimeSpan.FromSeconds((double)series["bucket_seconds"]!);
        Assert.Equal(ApiHostFixture.SeededMetrics.Order(StringComparer.Ordinal), series["series"]!.AsArray().Select(s => (string)s!["metric_name"]!));
        foreach (var metricSeries in series["series"]!.AsArray())
        {
            var metric = (string)metricSeries!["metric_name"]!;
            var raw = fixture.SeededSamples.Where(s => s.MetricName == metric && s.Timestamp >= first && s.Timestamp <= last).ToList();
            var buckets = metricSeries["points"]!.AsArray().Select(p => p!).ToList();
            Assert.InRange(buckets.Count, 1, points);
            Assert.Equal(raw.Count, buckets.Sum(b => (int)b["count"]!));
            Assert.Equal(raw.Min(s => s.Value), buckets.Min(b => (double)b["min"]!));
            Assert.Equal(raw.Max(s => s.Value), buckets.Max(b => (double)b["max"]!));
            Assert.Equal(raw[^1].Value, (double)buckets[^1]["last"]!);
            // Bucket starts lie on the grid start + i·width, strictly increasing, none empty.
            var times = buckets.Select(b => (DateTime)b["timestamp"]!).ToList();
            Assert.Equal(times.Order(), times);
            Assert.Equal(times.Count, times.Distinct().Count());
            Assert.All(times, time => Assert.True((time - first).Ticks % width.Ticks == 0, $"{time:O} is off the bucket grid"));
            Assert.All(buckets, b => Assert.True((int)b["count"]! > 0));
            // Each bucket's figures are those of the raw samples inside it.
            var firstBucket = buckets[0];
            var inFirst = raw.Where(s => s.Timestamp >= times[0] && s.Timestamp < times[0] + width).ToList();
            Assert.Equal(inFirst.Count, (int)firstBucket["count"]!);
            Assert.Equal(inFirst.Average(s => s.Value), (double)firstBucket["avg"]!, 9);
        }
    }

    [Fact]
    public async Task Series_filters_metrics_and_leaves_an_empty_range_empty()
    {
        var series = await Client.GetFromJsonNodeAsync(
            $"/api/v1/gpus/{ApiHostFixture.Seeded.Uuid}/series?metric=DCGM_FI_DEV_GPU_TEMP&metric=DCGM_FI_DEV_FB_USED&points=10");
        Assert.Equal(["DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP"], series["series"]!.AsArray().Select(s => (string)s!["metric_name"]!));

        var empty = await Client.GetFromJsonNodeAsync(
            $"/api/v1/gpus/{ApiHostFixture.Seeded.Uuid}/series?start_time=2001-01-01T00:00:00Z&end_time=2001-01-02T00:00:00Z");
        Assert.Empty(empty["series"]!.AsArray());
        Assert.Equal(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), (DateTime)empty["start_time"]!);
    }

    [Theory]
    [InlineData("points=0", "points must be a whole number from 1 to 10000")]
    [InlineData("points=10001", "points must be a whole number from 1 to 10000")]
    [InlineData("points=abc", "points must be a whole number from 1 to 10000")]
    [InlineData("start_time=yesterday", "start_time must be an RFC 3339 date-time")]
    [InlineData("start_time=2025-01-02T00:00:00Z&end_time=2025-01-01T00:00:00Z", "is after end_time")]
    [InlineData("metric=", "metric must not be empty")]
    public async Task Series_rejects_bad_parameters_with_a_problem(string parameters, string expected)
    {
        using var response = await Client.GetAsync($"/api/v1/gpus/{ApiHostFixture.Seeded.Uuid}/series?{parameters}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!);
    }

    [Fact]
    public async Task Series_of_an_unknown_gpu_is_a_404_problem()
    {
        using var response = await Client.GetAsync("/api/v1/gpus/GPU-nobody/series");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("GPU-nobody", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Gpus_carry_each_metrics_newest_value_from_the_manifest()
    {
        var gpu = await Client.GetFromJsonNodeAsync($"/api/v1/gpus/{ApiHostFixture.Seeded.Uuid}");
        var latest = gpu["latest"]!.AsObject();
        Assert.Equal(ApiHostFixture.SeededMetrics.Order(), latest.Select(pair => pair.Key).Order());
        foreach (var metric in ApiHostFixture.SeededMetrics)
        {
            var newest = fixture.SeededSamples.Where(s => s.MetricName == metric).MaxBy(s => s.Timestamp);
            Assert.Equal(newest.Value, (double)latest[metric]!["value"]!);
            Assert.Equal(newest.Timestamp, (DateTime)latest[metric]!["timestamp"]!);
        }

        // Every listed GPU of the reference file has its ten metrics.
        var page = await Client.GetFromJsonNodeAsync("/api/v1/gpus?limit=1000");
        var reference = page["gpus"]!.AsArray().Where(g => (string)g!["hostname"]! != "series-host").ToList();
        Assert.Equal(DashboardHost.ReferenceGpus, reference.Count);
        Assert.All(reference, g => Assert.Equal(10, g!["latest"]!.AsObject().Count));
    }

    [Fact]
    public async Task A_late_sample_older_than_the_newest_does_not_replace_the_latest_value()
    {
        var gpu = ApiHostFixture.Seeded with { Uuid = "GPU-dashboard-late-0002" };
        var now = DateTime.UtcNow;
        await fixture.Host.StoreAsync(gpu, [new MetricSample(now, "DCGM_FI_DEV_GPU_UTIL", 40, null)]);
        await fixture.Host.StoreAsync(gpu, [new MetricSample(now.AddSeconds(-5), "DCGM_FI_DEV_GPU_UTIL", 99, null)]);
        var latest = (await Client.GetFromJsonNodeAsync($"/api/v1/gpus/{gpu.Uuid}"))["latest"]!;
        Assert.Equal(40, (double)latest["DCGM_FI_DEV_GPU_UTIL"]!["value"]!);
    }

    [Fact]
    public async Task A_manifest_written_before_latest_values_existed_still_reads_and_gains_them_on_the_next_sample()
    {
        // The manifest as the previous release wrote it: no "latest" property.
        var store = fixture.Host.Services.GetRequiredService<IKeyValueStore>();
        var gpu = ApiHostFixture.Seeded with { Uuid = "GPU-dashboard-old-0003" };
        var t = DateTime.UtcNow.AddMinutes(-1);
        await fixture.Host.StoreAsync(gpu, [new MetricSample(t, "DCGM_FI_DEV_GPU_TEMP", 50, null)]);
        var key = $"gpu|{gpu.Uuid}|m";
        var manifest = JsonNode.Parse((await store.GetAsync(key))!.Value)!.AsObject();
        Assert.True(manifest.Remove("latest"));
        await store.SaveAsync(key, System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()), WriteCondition.Any);

        var before = await Client.GetFromJsonNodeAsync($"/api/v1/gpus/{gpu.Uuid}");
        Assert.Null(before["latest"]);
        Assert.Equal(1, (int)before["samples"]!);

        await fixture.Host.StoreAsync(gpu, [new MetricSample(t.AddSeconds(1), "DCGM_FI_DEV_GPU_UTIL", 12, null)]);
        var after = await Client.GetFromJsonNodeAsync($"/api/v1/gpus/{gpu.Uuid}");
        Assert.Equal(12, (double)after["latest"]!["DCGM_FI_DEV_GPU_UTIL"]!["value"]!);
        Assert.Equal(2, (int)after["samples"]!);
    }

    [Fact]
    public async Task Status_shows_the_embedded_process_live_with_its_counts()
    {
        var status = await Client.GetFromJsonNodeAsync("/api/v1/status");
        Assert.Equal("embedded", (string)status["mode"]!);
        var instance = Assert.Single(status["instances"]!.AsArray())!;
        Assert.Equal("embedded", (string)instance["service"]!);
        Assert.Equal("live", (string)instance["state"]!);
        Assert.True((bool)instance["store_healthy"]!);
        Assert.True((long)instance["samples_total"]! >= DashboardHost.ReferenceSamples);

        // The heartbeat also lands in the store (every HEARTBEAT_SECONDS = 1 here), as Dapr-mode instances' do.
        var store = fixture.Host.Services.GetRequiredService<IKeyValueStore>();
        await Eventually.HoldsAsync(async () => await store.GetAsync(HeartbeatStore.KeyOf("embedded")) is not null,
            TimeSpan.FromSeconds(10), "the embedded heartbeat document");
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/gpus/GPU-5fd4f087-86f3-7a43-b711-4771313afc50")]
    [InlineData("/hosts/mtv5-dgx1-hgpu-031")]
    [InlineData("/hosts/node-7.example.com")]
    [InlineData("/imports")]
    public async Task Page_paths_answer_the_app_shell_for_deep_links(string path)
    {
        using var response = await Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/assets/app.js", await response.Content.ReadAsStringAsync());
        Assert.Equal(GatewaySecurityExtensions.DashboardContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Unknown_page_paths_get_the_shell_with_a_404_and_api_paths_keep_their_problems()
    {
        // A browser navigating there gets the app's "not found" page; any other client the API's 404 problem.
        using var navigation = new HttpRequestMessage(HttpMethod.Get, "/no/such/page");
        navigation.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,*/*;q=0.8");
        using var page = await Client.SendAsync(navigation);
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        using var plain = await Client.GetAsync("/no/such/page");
        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
        Assert.Equal("application/problem+json", plain.Content.Headers.ContentType?.MediaType);

        foreach (var path in new[] { "/api/v1/nothing", "/openapi/none", "/health/none", "/metrics" })
        {
            using var api = await Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
            Assert.NotEqual("text/html", api.Content.Headers.ContentType?.MediaType);
        }
        using var wrongMethod = await Client.DeleteAsync("/api/v1/gpus");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        using var health = await Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var openApi = await Client.GetFromJsonNodeAsync("/openapi/v1.json");
        Assert.NotNull(openApi["paths"]!["/api/v1/gpus/{id}/series"]);
        Assert.NotNull(openApi["paths"]!["/api/v1/status"]);
        Assert.Null(openApi["paths"]!["/imports"]);
    }

    [Fact]
    public async Task Assets_are_served_offline_with_the_chart_librarys_licence()
    {
        foreach (var asset in new[] { "app.js", "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE.txt" })
        {
            using var response = await Client.GetAsync($"/assets/{asset}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"/assets/{asset}: {(int)response.StatusCode}");
        }
        var licence = await Client.GetStringAsync("/assets/vendor/uPlot.LICENSE.txt");
        Assert.Contains("MIT", licence);
        var shell = await Client.GetStringAsync("/");
        // Nothing from another origin (no CDN): every script and style is under /assets.
        Assert.DoesNotContain("http", shell, StringComparison.Ordinal);
    }

    [Fact]
    public void Vendored_chart_library_is_the_version_the_lock_file_pins()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "TelemetryPipeline.sln"))) root = Path.GetDirectoryName(root)!;
        var lockFile = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "web", "package-lock.json")))!;
        var pinned = (string)lockFile["packages"]!["node_modules/uplot"]!["version"]!;
        var vendor = Path.Combine(root, "services", "Telemetry.Gateway", "Dashboard", "vendor");
        Assert.Equal($"uplot {pinned}", File.ReadAllText(Path.Combine(vendor, "VERSIONS")).Trim());
        Assert.StartsWith($"/*! https://github.com/leeoniya/uPlot (v{pinned}) */", File.ReadAllText(Path.Combine(vendor, "uPlot.iife.min.js")));
    }

    private static string Iso(DateTime time) => Uri.EscapeDataString(time.ToString("O", CultureInfo.InvariantCulture));
}
