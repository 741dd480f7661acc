using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Telemetry.Core.Model;

namespace Telemetry.Dashboard.Tests;

/// <summary>The embedded host streaming the reference file, and one browser, shared by the page tests.</summary>
public sealed class BrowserHostFixture : IAsyncLifetime
{
    public static readonly GpuIdentity Busy = new("GPU-dashboard-busy-0001", "mtv5-dgx1-hgpu-031", 9, "nvidia9", "NVIDIA H100 80GB HBM3");

    public DashboardHost Host { get; } = new();
    public BrowserFixture Browser { get; } = new();

    public async Task InitializeAsync()
    {
        await Browser.InitializeAsync();
        await Host.WaitForReferenceAsync();
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await Host.DisposeAsync();
    }
}

/// <summary>Pages over the reference file as streamed: nothing here adds data.</summary>
public sealed class FleetBrowserTests(BrowserHostFixture fixture) : IClassFixture<BrowserHostFixture>
{
    private const string Gpu = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
    private readonly List<string> _problems = [];

    private Task<IPage> OpenAsync() => fixture.Browser.NewPageAsync(fixture.Host.BaseAddress, _problems);

    /// <summary>The page marks the body once its data is on screen. (A locator, not a wait on a script: the
    /// dashboard's CSP forbids evaluating strings, which Playwright's function waits do.)</summary>
    internal static Task ReadyAsync(IPage page, string name) =>
        page.Locator($"body[data-ready={name}]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = 15_000 });

    [BrowserFact]
    public async Task Fleet_page_shows_247_gpus_on_31_hosts_filters_and_opens_a_gpu()
    {
        var page = await OpenAsync();
        await page.GotoAsync("/");
        await ReadyAsync(page, "fleet");
        await Eventually.HoldsAsync(async () => await page.Locator(".gpu-card").CountAsync() == DashboardHost.ReferenceGpus,
            TimeSpan.FromSeconds(10), "247 GPU cards");
        Assert.Equal(DashboardHost.ReferenceHosts, await page.Locator("section.host").CountAsync());
        Assert.Equal("247", await page.Locator("#tile-gpus .tile-value").InnerTextAsync());
        Assert.Equal("31", await page.Locator("#tile-hosts .tile-value").InnerTextAsync());
        Assert.Equal("2,470", await page.Locator("#tile-samples .tile-value").InnerTextAsync());
        // Units on every reading, and the status panel's one embedded instance.
        var card = page.Locator($".gpu-card[data-uuid='{Gpu}']");
        Assert.EndsWith(" %", await card.Locator("[data-metric=DCGM_FI_DEV_GPU_UTIL] .value").TextContentAsync() ?? "");
        Assert.EndsWith(" °C", await card.Locator("[data-metric=DCGM_FI_DEV_GPU_TEMP] .value").TextContentAsync() ?? "");
        Assert.EndsWith(" W", await card.Locator("[data-metric=DCGM_FI_DEV_POWER_USAGE] .value").TextContentAsync() ?? "");
        Assert.EndsWith(" MiB", await card.Locator("[data-metric=DCGM_FI_DEV_FB_USED] .value").TextContentAsync() ?? "");
        Assert.Equal(1, await page.Locator("table.status tbody tr[data-service=embedded]").CountAsync());
        await BrowserFixture.ScreenshotAsync(page, "fleet.png");

        await page.SelectOptionAsync("select[name=host]", "mtv5-dgx1-hgpu-031");
        Assert.Equal(8, await page.Locator(".gpu-card").CountAsync());
        await page.FillAsync("input[name=text]", Gpu[..12]);
        Assert.Equal(1, await page.Locator(".gpu-card").CountAsync());

        await card.ClickAsync();
        await ReadyAsync(page, "gpu");
        Assert.EndsWith($"/gpus/{Gpu}", page.Url);
        Assert.Empty(_problems);
    }

    [BrowserFact]
    public async Task Host_page_shows_its_gpus_side_by_side()
    {
        var page = await OpenAsync();
        await page.GotoAsync("/hosts/mtv5-dgx1-hgpu-001");
        await ReadyAsync(page, "host");
        Assert.Equal(8, await page.Locator("#gpus .gpu-card").CountAsync());
        Assert.Equal(4, await page.Locator(".chart canvas").CountAsync());
        await BrowserFixture.ScreenshotAsync(page, "host.png");
        Assert.Empty(_problems);
    }

    [BrowserFact]
    public async Task Unknown_gpu_and_unknown_page_show_a_not_found_page()
    {
        var page = await OpenAsync();
        var response = await page.GotoAsync("/gpus/unknown");
        Assert.Equal(200, response!.Status); // a page path: the GPU is what is unknown, and the page says so
        await ReadyAsync(page, "not-found");
        Assert.Equal("GPU not found", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("unknown", await page.Locator(".not-found").InnerTextAsync());
        await BrowserFixture.ScreenshotAsync(page, "not-found.png");

        response = await page.GotoAsync("/no/such/page");
        Assert.Equal(404, response!.Status);
        await ReadyAsync(page, "not-found");
        Assert.Equal("Page not found", await page.Locator("h1").InnerTextAsync());
        // The only console error is the browser's own note of the 404 document itself.
        Assert.All(_problems, problem => Assert.Contains("404", problem));
    }

    [BrowserFact]
    public async Task Imports_page_says_plainly_when_the_gateway_refuses_imports()
    {
        var page = await OpenAsync();
        // The answer a gateway with imports disabled gives (IMPORTS_ENABLED unset, no API_KEY).
        await page.RouteAsync("**/api/v1/imports**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 403,
            ContentType = "application/problem+json",
            Body = """{"title":"Forbidden","status":403,"detail":"Imports are disabled: set IMPORTS_ENABLED=true or API_KEY."}""",
        }));
        await page.GotoAsync("/imports");
        await ReadyAsync(page, "imports");
        var notice = await page.Locator("#disabled").InnerTextAsync();
        Assert.Contains("Imports are disabled on this gateway", notice);
        Assert.Contains("IMPORTS_ENABLED", notice);
        Assert.True(await page.Locator("#upload").IsHiddenAsync());
    }
}

/// <summary>Pages while data arrives: a GPU's window grows, an upload is imported. A host of their own, so the
/// fleet figures above stay those of the reference file.</summary>
public sealed class LiveBrowserTests(BrowserHostFixture fixture) : IClassFixture<BrowserHostFixture>
{
    private readonly List<string> _problems = [];

    private Task<IPage> OpenAsync() => fixture.Browser.NewPageAsync(fixture.Host.BaseAddress, _problems);

    private static Task ReadyAsync(IPage page, string name) => FleetBrowserTests.ReadyAsync(page, name);

    [BrowserFact]
    public async Task Gpu_page_draws_the_points_series_returns_and_shows_a_new_sample_within_two_seconds()
    {
        // A window worth charting: 300 instants of ten seconds, four metrics.
        var now = DateTime.UtcNow;
        var samples = new List<MetricSample>();
        for (var i = 300; i >= 1; i--)
        {
            var t = now.AddSeconds(-10 * i);
            samples.Add(new MetricSample(t, "DCGM_FI_DEV_GPU_UTIL", 50 + 40 * Math.Sin(i / 15.0), null));
            samples.Add(new MetricSample(t, "DCGM_FI_DEV_GPU_TEMP", 60 + 15 * Math.Sin(i / 40.0), null));
            samples.Add(new MetricSample(t, "DCGM_FI_DEV_POWER_USAGE", 300 + 200 * Math.Cos(i / 25.0), null));
            samples.Add(new MetricSample(t, "DCGM_FI_DEV_FB_USED", 40_000 + 100 * i, null));
        }
        await fixture.Host.StoreAsync(BrowserHostFixture.Busy, samples);

        var page = await OpenAsync();
        await page.GotoAsync($"/gpus/{BrowserHostFixture.Busy.Uuid}");
        await ReadyAsync(page, "gpu");
        Assert.Equal(4, await page.Locator(".chart canvas").CountAsync());
        Assert.Contains("mtv5-dgx1-hgpu-031", await page.Locator("#identity").InnerTextAsync());

        // What the charts drew is what /series answers for the same request.
        var url = await page.EvaluateAsync<string>("window.dashboard.series.url");
        var expected = await fixture.Host.Client.GetFromJsonNodeAsync(url);
        var drawn = JsonNode.Parse((await page.EvaluateAsync<JsonElement>("window.dashboard.charts")).GetRawText())!;
        foreach (var series in expected["series"]!.AsArray())
        {
            var metric = (string)series!["metric_name"]!;
            var points = series["points"]!.AsArray();
            var columns = drawn[metric]!.AsArray();
            Assert.Equal(points.Count, columns[0]!.AsArray().Count);
            for (var i = 0; i < points.Count; i++)
            {
                var seconds = new DateTimeOffset((DateTime)points[i]!["timestamp"]!).ToUnixTimeMilliseconds() / 1000.0;
                Assert.Equal(seconds, (double)columns[0]![i]!, 3);
                Assert.Equal((double)points[i]!["avg"]!, (double)columns[1]![i]!, 9);
                Assert.Equal((double)points[i]!["min"]!, (double)columns[2]![i]!, 9);
                Assert.Equal((double)points[i]!["max"]!, (double)columns[3]![i]!, 9);
            }
        }
        await BrowserFixture.ScreenshotAsync(page, "gpu.png");

        // Live: a sample stored now shows without a reload, within 2 s of being stored.
        var utilisation = page.Locator("#latest [data-metric=DCGM_FI_DEV_GPU_UTIL] .value");
        Assert.NotEqual("77 %", await utilisation.InnerTextAsync());
        await fixture.Host.StoreAsync(BrowserHostFixture.Busy, [new MetricSample(DateTime.UtcNow, "DCGM_FI_DEV_GPU_UTIL", 77, null)]);
        var stored = Stopwatch.StartNew();
        await Eventually.HoldsAsync(() => page.EvaluateAsync<bool>(
            "() => document.querySelector('#latest [data-metric=DCGM_FI_DEV_GPU_UTIL] .value')?.textContent === '77 %'"
            + " && window.dashboard.charts.DCGM_FI_DEV_GPU_UTIL[1].includes(77)"), TimeSpan.FromSeconds(2), "the new sample on the page");
        Assert.True(stored.Elapsed < TimeSpan.FromSeconds(2), $"the new sample took {stored.Elapsed.TotalMilliseconds:F0} ms to appear");
        Assert.Empty(_problems);
    }

    [BrowserFact]
    public async Task An_upload_through_the_imports_page_completes()
    {
        // Twenty rows of the reference file, moved to a host of their own so they are easy to find. Their GPUs get new
        // uuids too: an import may not move a GPU the store already knows to another host (issue 15).
        var lines = File.ReadAllLines(DashboardHost.ReferenceCsv);
        var csv = string.Join('\n', lines.Take(21).Select((line, i) => i == 0 || !line.Contains("mtv5-dgx1-hgpu-031") ? line
            : System.Text.RegularExpressions.Regex.Replace(line.Replace("mtv5-dgx1-hgpu-031", "imported-host-01"), "GPU-[0-9a-f]{8}", "GPU-00c0ffee"))) + "\n";
        var file = Path.Combine(Path.GetTempPath(), $"dashboard-upload-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(file, csv);
        try
        {
            var page = await OpenAsync();
            await page.GotoAsync("/imports");
            await ReadyAsync(page, "imports");
            await page.SetInputFilesAsync("input[type=file]", file);
            await page.ClickAsync("#upload button[type=submit]");
            await page.Locator("#list tr[data-status=completed]").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
            Assert.Contains("Accepted as import", await page.Locator("#upload-message").InnerTextAsync());
            Assert.Contains(Path.GetFileName(file), await page.Locator("#list").InnerTextAsync());
            await BrowserFixture.ScreenshotAsync(page, "imports.png");
            var hosts = await fixture.Host.Client.GetFromJsonNodeAsync("/api/v1/hosts/imported-host-01/gpus");
            Assert.True((int)hosts["total"]! >= 1);
            Assert.True(_problems.Count == 0, string.Join("\n", _problems));
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>A gateway with API_KEY set: the dashboard asks for the key and sends it in X-API-Key.</summary>
public sealed class ApiKeyBrowserTests : IAsyncLifetime
{
    private const string Key = "dashboard-test-key";
    private readonly DashboardHost _host = new(new Dictionary<string, string> { ["API_KEY"] = Key });
    private readonly BrowserFixture _browser = new();

    public Task InitializeAsync() => _browser.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _host.DisposeAsync();
    }

    [BrowserFact]
    public async Task The_key_is_asked_for_kept_for_the_tab_and_sent()
    {
        var page = await _browser.NewPageAsync(_host.BaseAddress);
        await page.GotoAsync("/");
        await page.Locator("#banner").WaitForAsync();
        Assert.Contains("needs an API key", await page.Locator("#banner").InnerTextAsync());
        await page.FillAsync("#api-key input[name=key]", Key);
        await page.ClickAsync("#api-key button[type=submit]");
        await FleetBrowserTests.ReadyAsync(page, "fleet");
        Assert.Equal(Key, await page.EvaluateAsync<string>("sessionStorage.getItem('telemetry.apiKey')"));
        Assert.True(await page.Locator("#banner").IsHiddenAsync());
    }
}
