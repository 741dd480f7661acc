using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;

namespace Telemetry.Benchmarks;

/// <summary>
/// Figure 10: the dashboard in a real browser (Debian's headless Chromium through Playwright), beside the API
/// requests each page makes. Times run from the start of navigation to the frame that shows the data (the
/// page's <c>*-painted</c> performance mark, set two animation frames after the data is in the DOM), in a fresh
/// browser context each time, so the shell, scripts and API answers are all fetched anew.
/// </summary>
internal static class DashboardFigures
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private static readonly Dictionary<string, string> Breakdown = [];

    public static async Task RunAsync(Reporter reporter, bool quick)
    {
        if (!File.Exists(ChromiumPath))
        {
            Console.WriteLine($"  [10] skipped: no Chromium at {ChromiumPath} (apt-get install chromium)");
            return;
        }
        var runs = quick ? 7 : 21;
        var empty = Path.Combine(Path.GetTempPath(), $"bench-empty-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(empty, "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n");
        try
        {
            await using var host = new EmbeddedHost(new Dictionary<string, string>
            {
                ["CSV_FILE"] = empty, ["LOOP"] = "false", ["CHECKPOINT_ENABLED"] = "false", ["RATE"] = "0",
            });
            var full = await SeedAsync(host.Services.GetRequiredService<IBatchSink>());

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath, Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"],
            });
            var baseUrl = host.Client.BaseAddress!.ToString();

            var fleet = await PageTimesAsync(browser, baseUrl, "/", "fleet", runs);
            var fleetApi = await ApiTimesAsync(host.Client, "/api/v1/gpus?limit=1000", runs);
            reporter.Add(new Figure("10-fleet", "Dashboard / with 1,000 GPUs: navigation to painted, headless Chromium, memory store",
                Stats.Percentile(fleet, 50), "ms", Stats.Percentile(fleetApi, 50), "GET /api/v1/gpus?limit=1000 (the page's main request), median",
                "median < 1000 ms", Stats.Percentile(fleet, 50) < 1000,
                $"p90 {Stats.Percentile(fleet, 90):0} ms over {runs} loads after 2 warm-ups; API p90 {Stats.Percentile(fleetApi, 90):0.0} ms; last load (ms from navigation): {Breakdown.GetValueOrDefault("fleet")}"));

            var gpuPath = $"/gpus/{full}";
            var gpu = await PageTimesAsync(browser, baseUrl, gpuPath, "gpu", runs);
            var seriesApi = await ApiTimesAsync(host.Client, $"/api/v1/gpus/{full}/series?points=338", runs);
            reporter.Add(new Figure("10-gpu", "Dashboard GPU page, 10,000-sample window (10 charts): navigation to painted, headless Chromium",
                Stats.Percentile(gpu, 50), "ms", Stats.Percentile(seriesApi, 50), "GET /api/v1/gpus/{id}/series, whole window (the page's chart request), median",
                "median < 500 ms", Stats.Percentile(gpu, 50) < 500,
                $"p90 {Stats.Percentile(gpu, 90):0} ms over {runs} loads after 2 warm-ups; API p90 {Stats.Percentile(seriesApi, 90):0.0} ms; last load (ms from navigation): {Breakdown.GetValueOrDefault("gpu")}"));
        }
        finally
        {
            File.Delete(empty);
        }
    }

    /// <summary>1,000 GPUs on 125 hosts with ten metrics each (a few samples apiece), and one GPU whose window
    /// is full: 10,000 samples. Returns that GPU's uuid.</summary>
    private static async Task<string> SeedAsync(IBatchSink sink)
    {
        string[] metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL"];
        var random = new Random(8);
        var now = DateTime.UtcNow;
        var gpus = new List<GpuSamples>();
        for (var g = 0; g < 1000; g++)
        {
            var identity = new GpuIdentity($"GPU-bench-{g:D6}", $"bench-host-{g / 8:D3}", g % 8, $"nvidia{g % 8}", "NVIDIA H100 80GB HBM3");
            var samples = new List<MetricSample>();
            for (var i = 0; i < 3; i++)
            {
                foreach (var metric in metrics) samples.Add(new MetricSample(now.AddSeconds(i - 3), metric, random.Next(0, 100), null));
            }
            gpus.Add(new GpuSamples(identity, samples));
            if (gpus.Count == 100)
            {
                await sink.IngestAsync(new TelemetryBatch(Guid.NewGuid().ToString("N"), gpus), CancellationToken.None);
                gpus = [];
            }
        }
        var full = new GpuIdentity("GPU-bench-full-window", "bench-host-000", 8, "nvidia8", "NVIDIA H100 80GB HBM3");
        var window = new List<MetricSample>();
        for (var i = 0; i < 1000; i++)
        {
            foreach (var metric in metrics) window.Add(new MetricSample(now.AddSeconds(i - 1000), metric, 50 + 40 * Math.Sin(i / 30.0) + random.NextDouble(), null));
        }
        await sink.IngestAsync(new TelemetryBatch("full", [new GpuSamples(full, window)]), CancellationToken.None);
        return full.Uuid;
    }

    private static async Task<List<double>> PageTimesAsync(IBrowser browser, string baseUrl, string path, string page, int runs)
    {
        var times = new List<double>();
        for (var run = -2; run < runs; run++)
        {
            await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = baseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
            });
            var tab = await context.NewPageAsync();
            await tab.GotoAsync(path);
            await tab.Locator($"body[data-ready={page}]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = 30_000 });
            double painted = 0;
            for (var wait = Stopwatch.StartNew(); painted == 0 && wait.Elapsed < TimeSpan.FromSeconds(10); )
            {
                painted = await tab.EvaluateAsync<double>($"() => performance.getEntriesByName('{page}-painted')[0]?.startTime ?? 0");
                if (painted == 0) await Task.Delay(5);
            }
            if (run >= 0) times.Add(painted);
            if (run == runs - 1)
            {
                // Where the last load's time went, for the note: marks the app sets along the way.
                Breakdown[page] = await tab.EvaluateAsync<string>(
                    "() => ['responseEnd', 'app-start', 'series-fetched', 'charts-drawn', '" + page + "-rendered', '" + page + "-painted']" +
                    ".map(n => n === 'responseEnd' ? 'shell ' + Math.round(performance.getEntriesByType('navigation')[0].responseEnd)" +
                    " : (performance.getEntriesByName(n)[0] ? n + ' ' + Math.round(performance.getEntriesByName(n)[0].startTime) : null))" +
                    ".filter(Boolean).join(', ')");
            }
        }
        return times;
    }

    private static async Task<List<double>> ApiTimesAsync(HttpClient client, string path, int runs)
    {
        var times = new List<double>();
        for (var run = -2; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync(path);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            if (run >= 0) times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times;
    }
}
