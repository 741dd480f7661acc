using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Telemetry.Hosting.Deployment;
using Telemetry.DaprDouble;

namespace Telemetry.Benchmarks;

/// <summary>
/// Dapr mode as deployed: the streamer and the collector run as their own processes (their built executables,
/// see <see cref="AppProcess"/>), each talking to its own sidecar double over loopback gRPC; the collector's double
/// delivers to the collector's real app port over HTTP. The doubles (one in-memory backend, so figure 3's call
/// counters stay readable) and the gateway host, which figure 4 does not measure, run in the benchmark process.
/// So the apps' CPU is read straight from their processes, with no sidecar work in it.
/// </summary>
internal sealed class DaprBench : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<IAsyncDisposable> _owned = [];

    static DaprBench() =>
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TELEMETRY_GATEWAY_DAPR", Path.Combine(Paths.RepositoryRoot, "services", "Telemetry.Gateway.Dapr"));

    public DaprBackend Backend { get; } = new();
    public DaprSidecar CollectorSidecar { get; private set; } = null!;
    public DaprSidecar GatewaySidecar { get; private set; } = null!;
    public DaprSidecar StreamerSidecar { get; private set; } = null!;
    public AppProcess Collector { get; private set; } = null!;
    public AppProcess Streamer { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public InMemoryStateStore Store => Backend.StateStore(DeploymentDefaults.StateStoreName);

    public static async Task<DaprBench> StartAsync(IReadOnlyDictionary<string, string> streamerSettings)
    {
        var bench = new DaprBench();
        try
        {
            await bench.StartAllAsync(streamerSettings);
            return bench;
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(IReadOnlyDictionary<string, string> streamerSettings)
    {
        Backend.AddStateStore(new StateStoreOptions
        {
            Name = DeploymentDefaults.StateStoreName,
            KeyPrefix = KeyPrefixMode.Name,
            Scopes = [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId, DeploymentDefaults.GatewayAppId],
        });
        // No topic log: the collector subscribes before the streamer starts, and a log of every CloudEvent of a
        // long run would only grow the benchmark's heap.
        Backend.AddPubSub(new PubSubOptions
        {
            Name = DeploymentDefaults.PubSubName,
            Scopes = [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId],
        });

        CollectorSidecar = await Backend.StartSidecarAsync(DeploymentDefaults.CollectorAppId);
        var brokerPort = AppProcess.FreePort();
        Collector = Own(await AppProcess.StartAsync("Collector.Dapr", Sidecar(CollectorSidecar, new() { ["BROKER_PORT"] = $"{brokerPort}" }), StartTimeout));
        // The app channel, as daprd's --app-port: the double reads /dapr/subscribe and starts delivering.
        var channel = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{brokerPort}") };
        Own(new DisposeOnce(channel.Dispose));
        await CollectorSidecar.ConnectAppAsync(channel);

        GatewaySidecar = await Backend.StartSidecarAsync(DeploymentDefaults.GatewayAppId);
        var gateway = Own(new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(b =>
        {
            b.UseSetting("DAPR_GRPC_ENDPOINT", GatewaySidecar.GrpcEndpoint);
            b.UseSetting("DAPR_HTTP_ENDPOINT", GatewaySidecar.HttpEndpoint);
            b.UseSetting("LOG_LEVEL", "Warning");
            // The sidecar double serves state, pub/sub and configuration but not the workflow API, so the gateway's
            // import-workflow worker fails its connection every few seconds; figures 3 and 4 start no import.
            b.ConfigureLogging(logging => logging.AddFilter("Dapr.Workflow", LogLevel.None));
        }));
        Api = gateway.CreateClient();
        Api.BaseAddress = new Uri($"http://localhost:{DeploymentDefaults.GatewayPort}");

        StreamerSidecar = await Backend.StartSidecarAsync(DeploymentDefaults.StreamerAppId);
        Streamer = Own(await AppProcess.StartAsync("Streamer.Dapr", Sidecar(StreamerSidecar, new(streamerSettings) { ["CSV_FILE"] = Paths.ReferenceCsv }), StartTimeout));
    }

    private static Dictionary<string, string> Sidecar(DaprSidecar sidecar, Dictionary<string, string> settings)
    {
        settings["DAPR_GRPC_ENDPOINT"] = sidecar.GrpcEndpoint;
        settings["DAPR_HTTP_ENDPOINT"] = sidecar.HttpEndpoint;
        return settings;
    }

    public Task<double> SamplesStoredAsync() => Collector.CounterAsync("telemetry_samples_stored_total");
    public Task<double> SamplesPublishedAsync() => Streamer.CounterAsync("telemetry_samples_published_total");

    private T Own<T>(T owned) where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    public static int PublishCalls(DaprSidecar sidecar) =>
        sidecar.Calls["PublishEvent"] + sidecar.Calls["BulkPublishEvent"] + sidecar.Calls["BulkPublishEventAlpha1"];

    public static int StateCalls(DaprSidecar sidecar) =>
        sidecar.Calls.Snapshot().Where(call => call.Key.Contains("State", StringComparison.Ordinal)).Sum(call => call.Value);

    public int AllStateCalls => StateCalls(CollectorSidecar) + StateCalls(GatewaySidecar) + StateCalls(StreamerSidecar);

    /// <summary>Apps first (the streamer publishes its last rows through its sidecar while it stops), then the doubles.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            try { await owned.DisposeAsync(); } catch (ObjectDisposedException) { }
        }
        await Backend.DisposeAsync();
    }

    private sealed class DisposeOnce(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}

internal sealed record DaprRun(
    string Label, double Seconds, long SamplesStored, long SamplesPublished, int PublishCalls,
    int CollectorStateCalls, int AllStateCalls, long ValueBytesWritten, long StoredValueBytes, long SamplesInWindows,
    double StreamerCpuSeconds, double CollectorCpuSeconds, double BenchCpuSeconds, IReadOnlyDictionary<string, int> CollectorCalls,
    double CallsPerQueryMean, int CallsPerQueryMax)
{
    public double StateCallsPer1000 => AllStateCalls * 1000.0 / SamplesStored;
    public double CollectorStateCallsPer1000 => CollectorStateCalls * 1000.0 / SamplesStored;
    public double SamplesPerPublish => (double)SamplesPublished / PublishCalls;
    public double StoredBytesPerSample => (double)StoredValueBytes / SamplesInWindows;
    public double BytesWrittenPerSample => (double)ValueBytesWritten / SamplesStored;
    public double WriteAmplification => BytesWrittenPerSample / StoredBytesPerSample;

    /// <summary>Each app's CPU per sample it handled: the streamer per sample published, the collector per sample stored.</summary>
    public double StreamerMicroseconds => StreamerCpuSeconds / SamplesPublished * 1e6;
    public double CollectorMicroseconds => CollectorCpuSeconds / SamplesStored * 1e6;
}

internal static partial class Figures
{
    public static async Task DaprAsync(Reporter reporter, bool quick, bool roundTrips, bool cpu)
    {
        Console.WriteLine("\n== Figures 3 and 4: Dapr mode, streamer and collector processes behind sidecar doubles ==");
        // Apps this size keep tiering methods up (instrumented tier 0, then tier 1 with dynamic PGO) for 20-30 s at
        // full speed, costing the collector up to half a core meanwhile: measured, CPU per sample only settles after
        // about 30 s. Figure 4 is about steady state, so the warm-up is that long, and the window is several seconds.
        // The steady state is measured over at least ~10 s in quick mode: since full-pass messages (BATCH_SIZE 2500) the
        // pipeline stores ~350k samples/s here, and 1.5M samples, the old quick stop, was over in 4 s.
        var warmUp = TimeSpan.FromSeconds(30);
        var full = await DaprRunAsync("RATE=0", new() { ["RATE"] = "0", ["LOOP"] = "true", ["WORKERS"] = "2" }, warmUp,
            stopAfterSamples: quick ? 4_000_000L : 15_000_000L, stopAfterSeconds: quick ? 30 : 90);

        if (roundTrips)
        {
            var natural = await DaprRunAsync("RATE=1235 x 2 workers", new() { ["RATE"] = "1235", ["LOOP"] = "true", ["WORKERS"] = "2" },
                TimeSpan.FromSeconds(1), stopAfterSamples: long.MaxValue, stopAfterSeconds: quick ? 10 : 30);
            reporter.Add(new Figure("3a", "Dapr: samples per publish call, RATE=0", full.SamplesPerPublish, "samples/call",
                Target: ">= 100", Holds: full.SamplesPerPublish >= 100,
                Note: $"{full.SamplesPublished:N0} samples in {full.PublishCalls:N0} publish calls"));
            foreach (var (id, run) in new[] { ("3b", natural), ("3c", full) })
            {
                reporter.Add(new Figure(id, $"Dapr: state-store calls per 1,000 samples ingested, {run.Label}", run.StateCallsPer1000, "calls/1k samples",
                    Target: id == "3b" ? "<= 20 at the natural rate" : null, Holds: id == "3b" ? run.StateCallsPer1000 <= 20 : null,
                    Note: $"all sidecars {run.AllStateCalls:N0} state calls (collector alone {run.CollectorStateCallsPer1000:0.#}/1k) for {run.SamplesStored:N0} samples stored in {run.Seconds:0.0} s; " +
                          $"collector calls: {string.Join(", ", run.CollectorCalls.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value:N0}"))}"));
            }
            foreach (var (id, run) in new[] { ("3d", natural), ("3e", full) })
            {
                reporter.Add(new Figure(id, $"Dapr: bytes written to the state store per sample ingested, {run.Label}", run.BytesWrittenPerSample, "B/sample",
                    run.StoredBytesPerSample, "stored size per sample (value bytes in the store / samples in windows at the end)",
                    "<= 10x baseline", run.WriteAmplification <= 10,
                    $"{run.ValueBytesWritten:N0} value bytes in save/transaction requests; store holds {run.StoredValueBytes:N0} B for {run.SamplesInWindows:N0} samples"));
            }
            reporter.Add(new Figure("3f", "Dapr: sidecar calls per telemetry query (gateway)", full.CallsPerQueryMax, "calls/query",
                Target: "<= 3", Holds: full.CallsPerQueryMax <= 3,
                Note: $"max over 20 queries of GET /api/v1/gpus/{{uuid}}/telemetry?limit=10000 on random GPUs; mean {full.CallsPerQueryMean:0.##}"));
        }
        if (cpu)
        {
            var apps = full.StreamerMicroseconds + full.CollectorMicroseconds;
            reporter.Add(new Figure("4", "Dapr: app CPU per sample, streamer + collector processes (sidecar excluded), RATE=0", apps, "us/sample",
                Target: "<= 5 us", Holds: apps <= 5,
                Note: $"streamer {full.StreamerMicroseconds:0.00} us per sample published + collector {full.CollectorMicroseconds:0.00} us per sample stored; " +
                      $"child-process CPU (user + system) over {full.Seconds:0.0} s of steady state after warm-up: {full.SamplesPublished:N0} samples published, " +
                      $"{full.SamplesStored:N0} stored ({(full.StreamerCpuSeconds + full.CollectorCpuSeconds) / full.SamplesStored * 1e6:0.00} us per sample stored for both)"));
            reporter.Add(new Figure("4-streamer", "Dapr: streamer process CPU per sample published, RATE=0, WORKERS=2", full.StreamerMicroseconds, "us/sample",
                Note: $"{full.StreamerCpuSeconds:0.00} s CPU in {full.Seconds:0.0} s"));
            reporter.Add(new Figure("4-collector", "Dapr: collector process CPU per sample stored, RATE=0", full.CollectorMicroseconds, "us/sample",
                Note: $"{full.CollectorCpuSeconds:0.00} s CPU in {full.Seconds:0.0} s"));
            reporter.Add(new Figure("4-doubles", "Dapr: benchmark process CPU per sample stored (the three sidecar doubles and the idle gateway), RATE=0",
                full.BenchCpuSeconds / full.SamplesStored * 1e6, "us/sample",
                Note: "not part of figure 4: what the in-process stand-in for daprd costs, for scale"));
            var (serialize, collectorDecode) = JsonPathMicroseconds();
            reporter.Add(new Figure("4-json", "Dapr message JSON alone, CPU per sample: streamer serialise + collector decode (read a bulk delivery as the subscription does)",
                serialize + collectorDecode, "us/sample", Note: $"serialise {serialize:0.00} us, collector decode {collectorDecode:0.00} us; " +
                "40 GPUs x 10 samples per batch (about one published batch), single thread, best of 5 after 16 rounds of warm-up"));
        }
    }

    private static async Task<DaprRun> DaprRunAsync(string label, Dictionary<string, string> settings, TimeSpan warmUp,
        long stopAfterSamples, double stopAfterSeconds)
    {
        GC.Collect();
        await using var bench = await DaprBench.StartAsync(settings);
        // Warm-up: JIT, connections, first manifests, from the first sample stored. Counters are read as deltas from its end.
        var warmUntil = Stopwatch.StartNew();
        while (await bench.SamplesStoredAsync() == 0 && warmUntil.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        await Task.Delay(warmUp);

        var publishBefore = DaprBench.PublishCalls(bench.StreamerSidecar);
        var collectorStateBefore = DaprBench.StateCalls(bench.CollectorSidecar);
        var allStateBefore = bench.AllStateCalls;
        var collectorCallsBefore = bench.CollectorSidecar.Calls.Snapshot();
        var bytesBefore = bench.Store.ValueBytesRequested;
        var storedBefore = (long)await bench.SamplesStoredAsync();
        var publishedBefore = (long)await bench.SamplesPublishedAsync();
        var (streamerBefore, collectorBefore, benchBefore) = (bench.Streamer.Cpu, bench.Collector.Cpu, Process.GetCurrentProcess().TotalProcessorTime);
        var clock = Stopwatch.StartNew();

        // Progress is polled from the collector's /metrics every 250 ms: a scrape costs the collector far less than 0.1% of its CPU.
        long stored = 0, storedAtReport = 0;
        var (streamerAtReport, collectorAtReport) = (streamerBefore, collectorBefore);
        var nextReport = TimeSpan.FromSeconds(5);
        while (stored < stopAfterSamples && clock.Elapsed.TotalSeconds < stopAfterSeconds)
        {
            await Task.Delay(250);
            stored = (long)await bench.SamplesStoredAsync() - storedBefore;
            if (clock.Elapsed < nextReport) continue;
            nextReport += TimeSpan.FromSeconds(5);
            // Per-interval CPU per sample stored, to see whether the apps have settled (JIT tiering goes on for many seconds).
            var (streamerNow, collectorNow, delta) = (bench.Streamer.Cpu, bench.Collector.Cpu, Math.Max(1, stored - storedAtReport));
            Console.WriteLine($"    dapr {label}: {stored:N0} samples after {clock.Elapsed.TotalSeconds:0} s; last interval per sample stored: " +
                $"streamer {(streamerNow - streamerAtReport).TotalMicroseconds / delta:0.00} us, collector {(collectorNow - collectorAtReport).TotalMicroseconds / delta:0.00} us");
            (streamerAtReport, collectorAtReport, storedAtReport) = (streamerNow, collectorNow, stored);
        }

        var (streamerCpu, collectorCpu, benchCpu) = (bench.Streamer.Cpu, bench.Collector.Cpu, Process.GetCurrentProcess().TotalProcessorTime);
        var seconds = clock.Elapsed.TotalSeconds;
        stored = (long)await bench.SamplesStoredAsync() - storedBefore;
        var published = (long)await bench.SamplesPublishedAsync() - publishedBefore;
        var publishCalls = DaprBench.PublishCalls(bench.StreamerSidecar) - publishBefore;
        var collectorState = DaprBench.StateCalls(bench.CollectorSidecar) - collectorStateBefore;
        var allState = bench.AllStateCalls - allStateBefore;
        var bytes = bench.Store.ValueBytesRequested - bytesBefore;
        var collectorCalls = bench.CollectorSidecar.Calls.Snapshot()
            .ToDictionary(c => c.Key, c => c.Value - collectorCallsBefore.GetValueOrDefault(c.Key));

        // Stored size: what the store holds now against what the windows hold now (one consistent moment is not
        // guaranteed while ingest runs; the difference is a few in-flight batches out of 10^5 samples).
        var storedValueBytes = bench.Store.Entries.Values.Sum(e => (long)e.Value.Length);
        var (inWindows, uuids) = await WindowsAsync(bench.Api);

        var perQuery = new List<int>();
        var random = new Random(5);
        for (var i = 0; i < 20 && uuids.Count > 0; i++)
        {
            var uuid = uuids[random.Next(uuids.Count)];
            var before = bench.GatewaySidecar.Calls.Total;
            using var response = await bench.Api.GetAsync($"/api/v1/gpus/{uuid}/telemetry?limit=10000");
            response.EnsureSuccessStatusCode();
            perQuery.Add(bench.GatewaySidecar.Calls.Total - before);
        }

        var run = new DaprRun(label, seconds, stored, published, publishCalls, collectorState, allState, bytes, storedValueBytes, inWindows,
            (streamerCpu - streamerBefore).TotalSeconds, (collectorCpu - collectorBefore).TotalSeconds, (benchCpu - benchBefore).TotalSeconds,
            collectorCalls, perQuery.Count == 0 ? double.NaN : perQuery.Average(), perQuery.Count == 0 ? 0 : perQuery.Max());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    dapr {label}: {stored:N0} samples stored in {seconds:0.0} s ({stored / seconds:N0}/s), {published:N0} published; CPU: streamer {run.StreamerCpuSeconds:0.00} s " +
            $"({run.StreamerMicroseconds:0.00} us/sample), collector {run.CollectorCpuSeconds:0.00} s ({run.CollectorMicroseconds:0.00} us/sample), benchmark process {run.BenchCpuSeconds:0.00} s"));
        return run;
    }

    /// <summary>
    /// The JSON work the apps do per sample on the Dapr path, without any transport: the streamer's
    /// <c>TelemetryJson.Serialize</c> of a batch, and the collector's decode of a bulk delivery (<c>DeliveryBody.Read</c>,
    /// as the subscription reads one).
    /// </summary>
    private static (double Serialize, double Decode) JsonPathMicroseconds()
    {
        var batch = new Telemetry.Core.Model.TelemetryBatch("bench-1", HotPathData.Batch(40, 10, DateTime.UtcNow.Ticks));
        const int samples = 400, rounds = 500;
        var bestSerialize = double.MaxValue;
        var bestDecode = double.MaxValue;
        byte[] json = Telemetry.Core.Model.TelemetryJson.Serialize(batch);
        var envelope = System.Text.Encoding.UTF8.GetBytes($"{{\"entries\":[{{\"entryId\":\"1\",\"event\":{{\"data\":{System.Text.Encoding.UTF8.GetString(json)}}}}}]}}");
        // Only the last five attempts count, after ~3 s of both loops, as the apps are measured after their warm-up: the
        // first ~2,500 decodes ran at twice the cost of later ones while the JIT was still promoting the reading code.
        for (var attempt = 0; attempt < 21; attempt++)
        {
            if (attempt == 16) (bestSerialize, bestDecode) = (double.MaxValue, double.MaxValue);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < rounds; i++) json = Telemetry.Core.Model.TelemetryJson.Serialize(batch);
            bestSerialize = Math.Min(bestSerialize, clock.Elapsed.TotalMicroseconds / rounds / samples);
            clock.Restart();
            for (var i = 0; i < rounds; i++)
            {
                var delivery = Telemetry.Collector.DeliveryBody.Read(envelope);
                if (delivery.Messages[0].Batch is null) throw new InvalidOperationException(delivery.Messages[0].Problem);
            }
            bestDecode = Math.Min(bestDecode, clock.Elapsed.TotalMicroseconds / rounds / samples);
        }
        return (bestSerialize, bestDecode);
    }

    private static async Task<(long Samples, List<string> Uuids)> WindowsAsync(HttpClient api)
    {
        long total = 0;
        var uuids = new List<string>();
        for (var offset = 0; ; offset += 100)
        {
            using var page = JsonDocument.Parse(await api.GetStringAsync($"/api/v1/gpus?limit=100&offset={offset}"));
            foreach (var gpu in page.RootElement.GetProperty("gpus").EnumerateArray())
            {
                total += gpu.GetProperty("samples").GetInt64();
                uuids.Add(gpu.GetProperty("uuid").GetString()!);
            }
            if (!page.RootElement.GetProperty("pagination").GetProperty("has_next").GetBoolean()) return (total, uuids);
        }
    }
}
