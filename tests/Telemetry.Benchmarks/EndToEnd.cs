using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Telemetry.Hosting;

namespace Telemetry.Benchmarks;

internal sealed record EndToEndResult(string Store, long Samples, double Seconds, double SamplesPerSecond,
    double DelayP50Ms, double DelayP99Ms, int DelaySamples, long QueryableInWindows, double CpuSecondsPerSample);

/// <summary>
/// Figure 2 and 7: the embedded host streams the reference file with RATE=0 and LOOP=true (each pass is
/// re-stamped, so every pass is new data) until N samples have been committed to the window store, i.e.
/// are queryable; the clock runs from host start to that moment. Committed samples are counted with the
/// collector's own <c>telemetry_samples_stored_total</c> counter because windows of 247 GPUs hold at most
/// 2.47M samples: past that, eviction makes "samples in windows" stop growing. Meanwhile a poller reads the
/// newest telemetry of four GPUs over REST and, for every sample it sees for the first time, records
/// (time seen − stamped time): the read-to-queryable delay, overstated by at most one poll cycle.
/// </summary>
internal static class EndToEnd
{
    private static readonly string[] PolledGpus =
    [
        "GPU-5fd4f087-86f3-7a43-b711-4771313afc50", "GPU-bc7a12ab-4998-fdc5-0785-2678a929a142",
        "GPU-6c8915d7-f04d-beb9-3e8a-e06f97ca4480", "GPU-9ba418e1-59be-2f2e-6031-e3f6b7c64ad7",
    ];

    public static async Task<EndToEndResult> RunAsync(string store, long target, bool pollDelay)
    {
        var settings = new Dictionary<string, string>
        {
            ["CSV_FILE"] = Paths.ReferenceCsv,
            ["RATE"] = "0",
            ["LOOP"] = "true",
            ["CHECKPOINT_ENABLED"] = store == "sqlite" ? "true" : "false",
        };
        GC.Collect();
        var storedBefore = TelemetryMetrics.SamplesStored.Value;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var dataDir = Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
        using var sqlite = store == "sqlite" ? new Telemetry.Core.Storage.SqliteKeyValueStore(Path.Combine(dataDir, "telemetry.db")) : null;
        var counting = new CountingStore(sqlite ?? (Telemetry.Core.Storage.IKeyValueStore)new Telemetry.Core.Storage.MemoryKeyValueStore());
        await using var host = new EmbeddedHost(settings, counting, dataDir);
        using var done = new CancellationTokenSource();
        var delays = new List<double>();
        var poller = pollDelay ? Task.Run(() => PollAsync(host.Client, delays, target, storedBefore, done.Token)) : Task.CompletedTask;

        var nextReport = TimeSpan.FromSeconds(5);
        while (TelemetryMetrics.SamplesStored.Value - storedBefore < target)
        {
            await Task.Delay(2);
            if (clock.Elapsed < nextReport) continue;
            nextReport += TimeSpan.FromSeconds(5);
            Console.WriteLine($"    {store}: {TelemetryMetrics.SamplesStored.Value - storedBefore:N0} of {target:N0} samples stored after {clock.Elapsed.TotalSeconds:0} s");
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var stored = (long)(TelemetryMetrics.SamplesStored.Value - storedBefore);
        done.Cancel();
        try { await poller; } catch (OperationCanceledException) { }

        var inWindows = await SamplesInWindowsAsync(host.Client);
        Console.WriteLine($"    store traffic: {counting.Describe(stored)}");
        return new EndToEndResult(store, stored, seconds, stored / seconds,
            Stats.Percentile(delays, 50), Stats.Percentile(delays, 99), delays.Count, inWindows, cpu / stored);
    }

    /// <summary>Sum of the window sizes the API reports: what a client can query right now.</summary>
    public static async Task<long> SamplesInWindowsAsync(HttpClient api)
    {
        long total = 0;
        for (var offset = 0; ; offset += 1000)
        {
            using var page = JsonDocument.Parse(await api.GetStringAsync($"/api/v1/gpus?limit=1000&offset={offset}"));
            foreach (var gpu in page.RootElement.GetProperty("gpus").EnumerateArray()) total += gpu.GetProperty("samples").GetInt64();
            if (!page.RootElement.GetProperty("pagination").GetProperty("has_next").GetBoolean()) return total;
        }
    }

    private static async Task PollAsync(HttpClient api, List<double> delays, long target, double storedBefore, CancellationToken stop)
    {
        var newest = new Dictionary<string, DateTime>();
        foreach (var gpu in PolledGpus) newest[gpu] = DateTime.UtcNow;
        while (!stop.IsCancellationRequested)
        {
            // The first 5% warm the JIT and the store; their delays would describe start-up, not the pipeline.
            var warm = TelemetryMetrics.SamplesStored.Value - storedBefore > target * 0.05;
            foreach (var gpu in PolledGpus)
            {
                var since = newest[gpu].AddTicks(1).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                using var response = await api.GetAsync($"/api/v1/gpus/{gpu}/telemetry?start_time={since}&limit=10000", stop);
                var seen = DateTime.UtcNow;
                if (!response.IsSuccessStatusCode) continue; // 404 until the GPU's first batch is stored
                using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(stop), cancellationToken: stop);
                foreach (var point in body.RootElement.GetProperty("data").EnumerateArray())
                {
                    var stamped = point.GetProperty("timestamp").GetDateTime().ToUniversalTime();
                    if (stamped > newest[gpu]) newest[gpu] = stamped;
                    if (warm) lock (delays) delays.Add((seen - stamped).TotalMilliseconds);
                }
            }
            await Task.Delay(10, stop);
        }
    }
}
