using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Configuration;
using Telemetry.DaprDouble;
using Telemetry.Hosting;
using Telemetry.Streamer;

namespace Telemetry.Benchmarks;

/// <summary>
/// Dapr mode in one process: the real collector, gateway and streamer hosts, each behind its own sidecar double
/// (tests/Telemetry.DaprDouble) sharing one in-memory backend, exactly as tests/Telemetry.Dapr.Tests wires them.
/// The collector's app channel is the TestServer client; the apps reach their sidecars over loopback gRPC.
/// </summary>
internal sealed class DaprBench : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    static DaprBench()
    {
        foreach (var service in new[] { "Collector", "Gateway", "Streamer" })
            Environment.SetEnvironmentVariable($"ASPNETCORE_TEST_CONTENTROOT_TELEMETRY_{service.ToUpperInvariant()}",
                Path.Combine(Paths.RepositoryRoot, "services", $"Telemetry.{service}"));
    }

    public DaprBackend Backend { get; } = new();
    public DaprSidecar CollectorSidecar { get; private set; } = null!;
    public DaprSidecar GatewaySidecar { get; private set; } = null!;
    public DaprSidecar StreamerSidecar { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public StreamerStatus Streamer { get; private set; } = null!;
    public InMemoryStateStore Store => Backend.StateStore(ServiceDefaults.StateStoreName);

    private IAsyncDisposable? _streamerHost;

    public static async Task<DaprBench> StartAsync(IReadOnlyDictionary<string, string> streamerSettings, bool withCollector = true, bool keepMessages = false)
    {
        var bench = new DaprBench();
        bench.Backend.AddStateStore(new StateStoreOptions
        {
            Name = ServiceDefaults.StateStoreName,
            KeyPrefix = KeyPrefixMode.Name,
            Scopes = [ServiceDefaults.StreamerAppId, ServiceDefaults.CollectorAppId, ServiceDefaults.GatewayAppId],
        });
        // No topic log: the collector subscribes before the streamer starts, and a log of every CloudEvent of a
        // long run would only grow the heap (and the GC work counted in figure 4).
        bench.Backend.AddPubSub(new PubSubOptions
        {
            Name = ServiceDefaults.PubSubName,
            Scopes = [ServiceDefaults.StreamerAppId, ServiceDefaults.CollectorAppId],
            KeepMessages = keepMessages,
        });

        bench.CollectorSidecar = await bench.Backend.StartSidecarAsync(ServiceDefaults.CollectorAppId);
        if (withCollector) await bench.StartCollectorAsync();

        bench.GatewaySidecar = await bench.Backend.StartSidecarAsync(ServiceDefaults.GatewayAppId);
        var gateway = bench.Own(new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(b => UseSidecar(b, bench.GatewaySidecar)));
        bench.Api = gateway.CreateClient();
        bench.Api.BaseAddress = new Uri($"http://localhost:{ServiceDefaults.GatewayPort}");

        bench.StreamerSidecar = await bench.Backend.StartSidecarAsync(ServiceDefaults.StreamerAppId);
        var streamer = bench.Own(new WebApplicationFactory<StreamerProgram>().WithWebHostBuilder(b =>
        {
            UseSidecar(b, bench.StreamerSidecar);
            b.UseSetting("CSV_FILE", Paths.ReferenceCsv);
            foreach (var (key, value) in streamerSettings) b.UseSetting(key, value);
        }));
        streamer.CreateClient().Dispose(); // starts the host
        bench._streamerHost = streamer;
        bench.Streamer = streamer.Services.GetRequiredService<StreamerStatus>();
        return bench;
    }

    /// <summary>Starts the collector host and connects its sidecar (which joins the topic's consumer group).</summary>
    public async Task StartCollectorAsync()
    {
        var collector = Own(new WebApplicationFactory<CollectorProgram>().WithWebHostBuilder(b => UseSidecar(b, CollectorSidecar)));
        var channel = collector.CreateClient();
        channel.BaseAddress = new Uri($"http://localhost:{ServiceDefaults.CollectorAppPort}");
        await CollectorSidecar.ConnectAppAsync(channel);
    }

    public async Task StopStreamerAsync()
    {
        if (_streamerHost is null) return;
        _owned.Remove(_streamerHost);
        await _streamerHost.DisposeAsync();
        _streamerHost = null;
    }

    private static void UseSidecar(IWebHostBuilder builder, DaprSidecar sidecar)
    {
        builder.UseSetting("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint);
        builder.UseSetting("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint);
        builder.UseSetting("LOG_LEVEL", "Warning");
    }

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

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            try { await owned.DisposeAsync(); } catch (ObjectDisposedException) { }
        }
        await Backend.DisposeAsync();
    }
}

internal sealed record DaprRun(
    string Label, double Seconds, long SamplesStored, long SamplesPublished, int PublishCalls,
    int CollectorStateCalls, int AllStateCalls, long ValueBytesWritten, long StoredValueBytes, long SamplesInWindows,
    double ProcessCpuSeconds, double SidecarCpuSeconds, long AllocatedBytes, long SidecarAllocatedBytes, IReadOnlyDictionary<string, int> CollectorCalls,
    double CallsPerQueryMean, int CallsPerQueryMax)
{
    public double StateCallsPer1000 => AllStateCalls * 1000.0 / SamplesStored;
    public double CollectorStateCallsPer1000 => CollectorStateCalls * 1000.0 / SamplesStored;
    public double SamplesPerPublish => (double)SamplesPublished / PublishCalls;
    public double StoredBytesPerSample => (double)StoredValueBytes / SamplesInWindows;
    public double BytesWrittenPerSample => (double)ValueBytesWritten / SamplesStored;
    public double WriteAmplification => BytesWrittenPerSample / StoredBytesPerSample;
}

internal static partial class Figures
{
    public static async Task DaprAsync(Reporter reporter, bool quick, bool roundTrips, bool cpu)
    {
        Console.WriteLine("\n== Figures 3 and 4: Dapr mode through the sidecar doubles ==");
        var fullSpeedSamples = quick ? 600_000L : 2_000_000L; // several seconds: a short window is skewed by the backlog the warm-up leaves
        var full = await DaprRunAsync("RATE=0", new() { ["RATE"] = "0", ["LOOP"] = "true", ["WORKERS"] = "2" },
            stopAfterSamples: fullSpeedSamples, stopAfterSeconds: quick ? 60 : 180, measureCpu: cpu);

        if (roundTrips)
        {
            var natural = await DaprRunAsync("RATE=1235 x 2 workers", new() { ["RATE"] = "1235", ["LOOP"] = "true", ["WORKERS"] = "2" },
                stopAfterSamples: long.MaxValue, stopAfterSeconds: quick ? 10 : 30, measureCpu: false);
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
            var streamerOnly = await DaprRunAsync("RATE=0, no collector", new() { ["RATE"] = "0", ["LOOP"] = "true", ["WORKERS"] = "2" },
                stopAfterSamples: fullSpeedSamples, stopAfterSeconds: quick ? 60 : 180, measureCpu: true, withCollector: false);
            var streamerGross = streamerOnly.ProcessCpuSeconds / streamerOnly.SamplesStored * 1e6;
            var streamerNet = streamerGross - streamerOnly.SidecarCpuSeconds / streamerOnly.SamplesStored * 1e6;
            reporter.Add(new Figure("4-streamer", "Dapr: streamer alone (no collector subscribed), CPU per sample published, doubles' accounted CPU subtracted",
                streamerNet, "us/sample", Note: $"process CPU {streamerGross:0.00} us/sample over {streamerOnly.SamplesStored:N0} samples published; " +
                $"allocated {streamerOnly.AllocatedBytes / (double)streamerOnly.SamplesStored:0} B/sample ({streamerOnly.SidecarAllocatedBytes / (double)streamerOnly.SamplesStored:0} in the doubles)"));
            var gross = full.ProcessCpuSeconds / full.SamplesStored * 1e6;
            var sidecar = full.SidecarCpuSeconds / full.SamplesStored * 1e6;
            var net = gross - sidecar;
            reporter.Add(new Figure("4", "Dapr: app CPU per sample (streamer + collector), RATE=0, sidecar doubles' accounted CPU subtracted",
                net, "us/sample", Target: "<= 5 us", Holds: net <= 5,
                Note: $"process CPU {gross:0.00} us/sample over {full.SamplesStored:N0} samples (steady state, {full.Seconds:0.0} s) minus {sidecar:0.00} us/sample " +
                      "accounted to the doubles by thread CPU clock (gRPC (de)serialisation, handlers, delivery bodies); the doubles' Kestrel HTTP/2 " +
                      $"side and the GC work for the doubles' garbage are not accounted, so this overstates the apps' CPU; allocated {full.AllocatedBytes / (double)full.SamplesStored:0} B/sample, " +
                      $"{full.SidecarAllocatedBytes / (double)full.SamplesStored:0} of it in the doubles' measured sections"));
            var (replayed, replayCpu, replaySidecarCpu, replaySeconds) = await CollectorReplayAsync(fullSpeedSamples);
            var collectorGross = replayCpu / replayed * 1e6;
            var collectorNet = collectorGross - replaySidecarCpu / replayed * 1e6;
            reporter.Add(new Figure("4-collector", "Dapr: collector alone (replaying a published backlog), CPU per sample stored, doubles' accounted CPU subtracted",
                collectorNet, "us/sample", Note: $"process CPU {collectorGross:0.00} us/sample over {replayed:N0} samples stored in {replaySeconds:0.0} s; " +
                $"4-streamer + 4-collector = {streamerNet + collectorNet:0.00} us/sample"));
            var (serialize, collectorDecode) = JsonPathMicroseconds();
            reporter.Add(new Figure("4-json", "Dapr message JSON alone, CPU per sample: streamer serialise + collector decode (parse envelope, re-serialise data, deserialise)",
                serialize + collectorDecode, "us/sample", Note: $"serialise {serialize:0.00} us, collector decode {collectorDecode:0.00} us; " +
                "40 GPUs x 10 samples per batch (about one published batch), single thread, best of 5"));
            reporter.Add(new Figure("4-gross", "Dapr: whole-process CPU per sample, RATE=0 (apps + sidecar doubles)", gross, "us/sample"));
        }
    }

    private static async Task<DaprRun> DaprRunAsync(string label, Dictionary<string, string> settings, long stopAfterSamples, double stopAfterSeconds,
        bool measureCpu, bool withCollector = true)
    {
        GC.Collect();
        await using var bench = await DaprBench.StartAsync(settings, withCollector);
        // Progress is samples stored, or samples published when there is no collector.
        long Progress() => withCollector ? (long)TelemetryMetrics.SamplesStored.Value : bench.Streamer.SamplesPublished;
        // Warm-up: JIT, connections, first manifests. Counters are read as deltas from its end.
        var warmUntil = Stopwatch.StartNew();
        var progressAtStart = Progress();
        while (Progress() == progressAtStart && warmUntil.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(5);
        await Task.Delay(1000);

        var storedBefore = Progress();
        var allocatedBefore = GC.GetTotalAllocatedBytes();
        var pauseBefore = GC.GetTotalPauseDuration();
        var gen2Before = GC.CollectionCount(2);
        var publishedBefore = bench.Streamer.SamplesPublished;
        var publishBefore = DaprBench.PublishCalls(bench.StreamerSidecar);
        var collectorStateBefore = DaprBench.StateCalls(bench.CollectorSidecar);
        var allStateBefore = bench.AllStateCalls;
        var collectorCallsBefore = bench.CollectorSidecar.Calls.Snapshot();
        var bytesBefore = bench.Store.ValueBytesRequested;
        SidecarCpuMeter.Reset();
        SidecarCpuMeter.Enabled = measureCpu;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();

        var nextReport = TimeSpan.FromSeconds(5);
        while (Progress() - storedBefore < stopAfterSamples && clock.Elapsed.TotalSeconds < stopAfterSeconds)
        {
            await Task.Delay(5);
            if (clock.Elapsed < nextReport) continue;
            nextReport += TimeSpan.FromSeconds(5);
            Console.WriteLine($"    dapr {label}: {Progress() - storedBefore:N0} samples after {clock.Elapsed.TotalSeconds:0} s");
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        SidecarCpuMeter.Enabled = false;
        var sidecarCpu = SidecarCpuMeter.Accounted.TotalSeconds;
        var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        var sidecarAllocated = SidecarCpuMeter.AllocatedBytes;
        var stored = Progress() - storedBefore;
        var published = bench.Streamer.SamplesPublished - publishedBefore;
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

        Console.WriteLine($"    dapr {label}: {stored:N0} samples in {seconds:0.0} s ({stored / seconds:N0}/s); process CPU {cpu:0.00} s, doubles accounted {sidecarCpu:0.00} s; " +
            $"allocated {allocated / (double)stored:0} B/sample, {sidecarAllocated / (double)stored:0} B/sample of it in the doubles' measured sections; " +
            $"GC pauses {(GC.GetTotalPauseDuration() - pauseBefore).TotalSeconds:0.00} s, {GC.CollectionCount(2) - gen2Before} gen2 collections; {published:N0} samples published");
        return new DaprRun(label, seconds, stored, published, publishCalls, collectorState, allState, bytes, storedValueBytes, inWindows,
            cpu, sidecarCpu, allocated, sidecarAllocated, collectorCalls, perQuery.Count == 0 ? double.NaN : perQuery.Average(), perQuery.Count == 0 ? 0 : perQuery.Max());
    }

    /// <summary>
    /// The collector's share alone: the streamer publishes a backlog into the broker's topic log with no collector
    /// subscribed, and is stopped; then the collector starts, its sidecar's consumer group replays the log, and the
    /// process CPU is measured from the collector's start until it has stored every published sample. Runs after
    /// the other Dapr runs, so the code is already jitted; the collector host's start-up is included.
    /// </summary>
    private static async Task<(long Samples, double CpuSeconds, double SidecarCpuSeconds, double Seconds)> CollectorReplayAsync(long samples)
    {
        await using var bench = await DaprBench.StartAsync(new Dictionary<string, string> { ["RATE"] = "0", ["LOOP"] = "true", ["WORKERS"] = "2" }, withCollector: false, keepMessages: true);
        var wait = Stopwatch.StartNew();
        while (bench.Streamer.SamplesPublished < samples && wait.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(5);
        await bench.StopStreamerAsync();
        var published = bench.Streamer.SamplesPublished;
        GC.Collect();
        GC.WaitForPendingFinalizers();

        var storedBefore = (long)TelemetryMetrics.SamplesStored.Value;
        SidecarCpuMeter.Reset();
        SidecarCpuMeter.Enabled = true;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await bench.StartCollectorAsync();
        while ((long)TelemetryMetrics.SamplesStored.Value - storedBefore < published && clock.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(2);
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        SidecarCpuMeter.Enabled = false;
        var stored = (long)TelemetryMetrics.SamplesStored.Value - storedBefore;
        Console.WriteLine($"    dapr collector replay: {stored:N0} of {published:N0} published samples stored in {clock.Elapsed.TotalSeconds:0.0} s; process CPU {cpu:0.00} s, doubles accounted {SidecarCpuMeter.Accounted.TotalSeconds:0.00} s");
        return (stored, cpu, SidecarCpuMeter.Accounted.TotalSeconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The JSON work the apps do per sample on the Dapr path, without any transport: the streamer's
    /// <c>TelemetryJson.Serialize</c> of a batch, and the collector's decode of a delivery entry (parse, re-serialise
    /// the <c>data</c> element, deserialise), as in SubscriptionEndpoints.
    /// </summary>
    private static (double Serialize, double Decode) JsonPathMicroseconds()
    {
        var batch = new Telemetry.Core.Model.TelemetryBatch("bench-1", HotPathData.Batch(40, 10, DateTime.UtcNow.Ticks));
        const int samples = 400, rounds = 500;
        var bestSerialize = double.MaxValue;
        var bestDecode = double.MaxValue;
        byte[] json = Telemetry.Core.Model.TelemetryJson.Serialize(batch);
        var envelope = System.Text.Encoding.UTF8.GetBytes($"{{\"entries\":[{{\"entryId\":\"1\",\"event\":{{\"data\":{System.Text.Encoding.UTF8.GetString(json)}}}}}]}}");
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < rounds; i++) json = Telemetry.Core.Model.TelemetryJson.Serialize(batch);
            bestSerialize = Math.Min(bestSerialize, clock.Elapsed.TotalMicroseconds / rounds / samples);
            clock.Restart();
            for (var i = 0; i < rounds; i++)
            {
                using var document = JsonDocument.Parse(envelope);
                var data = document.RootElement.GetProperty("entries")[0].GetProperty("event").GetProperty("data");
                if (!Telemetry.Core.Model.TelemetryJson.TryDeserialize(JsonSerializer.SerializeToUtf8Bytes(data), out _, out var problem))
                    throw new InvalidOperationException(problem);
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
