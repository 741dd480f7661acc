using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Telemetry.Benchmarks;

internal sealed record EndToEndResult(string Store, long Samples, double Seconds, double SamplesPerSecond, double BeforePerSecond,
    double BeforeSeconds, double FirstQueryableSeconds, double DelayP50Ms, double DelayP99Ms, int DelaySamples, long QueryableInWindows, double CpuMicrosecondsPerSample);

/// <summary>
/// Figures 2 and 7: the embedded service run as shipped (`dotnet Telemetry.Embedded.dll` in a process of its own,
/// with its own server GC) streams the reference file with RATE=0 and LOOP=true (each pass is re-stamped, so every
/// pass is new data) until N samples have been committed to the window store, i.e. are queryable. Committed samples
/// are counted with the service's own <c>telemetry_samples_stored_total</c> (read from its metrics endpoint every
/// 20 ms) because windows of 247 GPUs hold at most 2.47M samples: past that, eviction makes "samples in windows"
/// stop growing. Figure 2 measures a service that has been running a while: it streams for a warm-up period first
/// (start-up, the JIT's tier-up of the hot paths, windows filling), then N more samples are timed; the start-up is
/// reported beside it (process start to first sample queryable, rate during the warm-up). Figure 7 has no warm-up,
/// so its windows fill during the run, and is timed from a quarter of N to N, with tiered compilation off: every
/// method is fully optimised from its first call, so the curve shows the pipeline, not the JIT catching up. Meanwhile a poller reads the newest
/// telemetry of four GPUs over REST and, for every sample it sees for the first time, records (time seen − stamped
/// time): the read-to-queryable delay, overstated by at most one poll cycle.
/// </summary>
internal static class EndToEnd
{
    private const string Stored = "telemetry_samples_stored_total";

    private static readonly string[] PolledGpus =
    [
        "GPU-5fd4f087-86f3-7a43-b711-4771313afc50", "GPU-bc7a12ab-4998-fdc5-0785-2678a929a142",
        "GPU-6c8915d7-f04d-beb9-3e8a-e06f97ca4480", "GPU-9ba418e1-59be-2f2e-6031-e3f6b7c64ad7",
    ];

    /// <param name="warmUp">When positive, the service streams this long before the clock starts, and then
    /// <paramref name="target"/> more samples are measured (figure 2: a service that has been running a while, its
    /// windows full and evicting). When zero, the run is measured from a quarter of <paramref name="target"/> to
    /// <paramref name="target"/> (figure 7: windows fill during the run).</param>
    /// <param name="runtime">Extra environment for the service's runtime (figure 7 turns tiered compilation off).</param>
    public static async Task<EndToEndResult> RunAsync(string store, long target, bool pollDelay, TimeSpan warmUp,
        IReadOnlyDictionary<string, string>? runtime = null)
    {
        var dataDir = Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            var environment = new Dictionary<string, string>(runtime ?? new Dictionary<string, string>())
            {
                ["CSV_FILE"] = Paths.ReferenceCsv,
                ["RATE"] = "0",
                ["LOOP"] = "true",
                ["CHECKPOINT_ENABLED"] = store == "sqlite" ? "true" : "false",
                ["DATA_DIR"] = dataDir,
            };
            await using var service = await AppProcess.StartAsync("Embedded", environment, TimeSpan.FromMinutes(1), healthPortSetting: "PORT");
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.HealthPort}"), Timeout = TimeSpan.FromMinutes(2) };
            using var done = new CancellationTokenSource();
            var delays = new List<double>();
            var measuring = 0; // delays count only while measuring: the warm-up's describe start-up, not the pipeline
            var poller = pollDelay ? Task.Run(() => PollAsync(api, delays, () => Volatile.Read(ref measuring) == 1, done.Token)) : Task.CompletedTask;

            double? firstQueryable = null;
            double fromSeconds = 0;
            long stored = 0, fromSamples = 0, end = target;
            var fromCpu = TimeSpan.Zero;
            var nextReport = TimeSpan.FromSeconds(5);
            while (measuring == 0 || stored < end)
            {
                await Task.Delay(20);
                stored = (long)await service.CounterAsync(Stored);
                if (clock.Elapsed > warmUp + TimeSpan.FromMinutes(10)) throw new TimeoutException($"{stored:N0} of {end:N0} samples stored after {clock.Elapsed}.");
                if (stored > 0) firstQueryable ??= clock.Elapsed.TotalSeconds;
                if (measuring == 0 && (warmUp > TimeSpan.Zero ? clock.Elapsed >= warmUp : stored >= target / 4))
                {
                    (fromSeconds, fromSamples, fromCpu) = (clock.Elapsed.TotalSeconds, stored, service.Cpu);
                    // A slow first poll can find a quarter already passed: time at least three quarters of N anyway.
                    end = warmUp > TimeSpan.Zero ? stored + target : Math.Max(target, stored + 3 * target / 4);
                    Volatile.Write(ref measuring, 1);
                }
                if (clock.Elapsed < nextReport) continue;
                nextReport += TimeSpan.FromSeconds(5);
                Console.WriteLine($"    {store}: {stored:N0} samples stored after {clock.Elapsed.TotalSeconds:0} s{(measuring == 0 ? " (warming up)" : $", measuring until {end:N0}")}");
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var cpu = service.Cpu - fromCpu;
            done.Cancel();
            try { await poller; } catch (OperationCanceledException) { }

            var inWindows = await SamplesInWindowsAsync(api);
            var measured = stored - fromSamples;
            return new EndToEndResult(store, measured, seconds - fromSeconds, measured / (seconds - fromSeconds),
                fromSamples / fromSeconds, fromSeconds, firstQueryable!.Value, Stats.Percentile(delays, 50), Stats.Percentile(delays, 99), delays.Count,
                inWindows, cpu.TotalSeconds / measured * 1e6);
        }
        finally
        {
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
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

    private static async Task PollAsync(HttpClient api, List<double> delays, Func<bool> warm, CancellationToken stop)
    {
        var newest = new Dictionary<string, DateTime>();
        foreach (var gpu in PolledGpus) newest[gpu] = DateTime.UtcNow;
        while (!stop.IsCancellationRequested)
        {
            // The first 5% warm the JIT and the store; their delays would describe start-up, not the pipeline.
            var counted = warm();
            foreach (var gpu in PolledGpus)
            {
                var since = newest[gpu].AddTicks(1).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                HttpResponseMessage response;
                try
                {
                    response = await api.GetAsync($"/api/v1/gpus/{gpu}/telemetry?start_time={since}&limit=10000", stop);
                }
                catch (HttpRequestException)
                {
                    break; // the service is still starting
                }
                using var owned = response;
                var seen = DateTime.UtcNow;
                if (!response.IsSuccessStatusCode) continue; // 404 until the GPU's first batch is stored
                using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(stop), cancellationToken: stop);
                foreach (var point in body.RootElement.GetProperty("data").EnumerateArray())
                {
                    var stamped = point.GetProperty("timestamp").GetDateTime().ToUniversalTime();
                    if (stamped > newest[gpu]) newest[gpu] = stamped;
                    if (counted) lock (delays) delays.Add((seen - stamped).TotalMilliseconds);
                }
            }
            await Task.Delay(10, stop);
        }
    }
}
