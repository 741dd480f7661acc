using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Telemetry.Core.Csv;

namespace Telemetry.Benchmarks;

/// <summary>
/// A single-node VictoriaMetrics (Debian's <c>victoria-metrics</c> package) as a same-run baseline: started on a free
/// loopback port with a temporary data directory, stopped by its process id (SIGTERM, then SIGKILL) when disposed,
/// and, on Linux, started under <c>setpriv --pdeathsig KILL</c> so it cannot outlive the benchmark either.
/// </summary>
internal sealed class VictoriaMetrics : IAsyncDisposable
{
    private const string Package = "victoria-metrics";
    private readonly Process _process;
    private readonly string _dataDir;

    private VictoriaMetrics(Process process, string dataDir, int port, TimeSpan started)
    {
        _process = process;
        _dataDir = dataDir;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
        StartedAt = started;
    }

    public HttpClient Http { get; }

    /// <summary>When the process was started, on the caller's clock.</summary>
    public TimeSpan StartedAt { get; }

    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The binary, installed from apt first when it is missing (the only case in which this shells out to
    /// apt-get; it says so on the console).</summary>
    public static string EnsureInstalled()
    {
        var found = Which(Package);
        if (found is not null) return found;
        Console.WriteLine($"    {Package} is not installed: running `apt-get install -y {Package}` (Debian package, VictoriaMetrics single node)");
        if (RunApt($"install -y {Package}") != 0)
        {
            Console.WriteLine("    install failed; running `apt-get update`, then the install again");
            RunApt("update");
            if (RunApt($"install -y {Package}") != 0)
                throw new InvalidOperationException($"`apt-get install -y {Package}` failed; install it (as root) and run again, or leave figure 8 out (--only).");
        }
        return Which(Package) ?? throw new InvalidOperationException($"`apt-get install {Package}` succeeded but no `{Package}` binary is on PATH.");
    }

    private static int RunApt(string arguments)
    {
        var info = new ProcessStartInfo("apt-get", arguments) { UseShellExecute = false };
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var apt = Process.Start(info) ?? throw new InvalidOperationException("apt-get did not start.");
        apt.WaitForExit();
        return apt.ExitCode;
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Starts it and waits for <c>/health</c>. <paramref name="clock"/> dates <see cref="StartedAt"/>.</summary>
    public static async Task<VictoriaMetrics> StartAsync(string binary, Stopwatch clock)
    {
        var dataDir = Directory.CreateTempSubdirectory("telemetry-bench-vm-").FullName;
        var port = AppProcess.FreePort();
        var pdeathsig = OperatingSystem.IsLinux() && File.Exists(AppProcess.SetPriv);
        var info = new ProcessStartInfo(pdeathsig ? AppProcess.SetPriv : binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (pdeathsig) foreach (var arg in new[] { "--pdeathsig", "KILL", "--", binary }) info.ArgumentList.Add(arg);
        // Data far in the past is accepted with a long retention; self-scraping stays off (its default) so the only
        // rows stored are the benchmark's.
        foreach (var arg in new[] { $"-storageDataPath={dataDir}", $"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y", "-loggerLevel=ERROR" })
            info.ArgumentList.Add(arg);
        var started = clock.Elapsed;
        var process = await AppProcess.StartOnOwnThreadAsync(info);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var vm = new VictoriaMetrics(process, dataDir, port, started);
        Console.WriteLine($"    {binary} started, pid {process.Id}, port {port}, data {dataDir}");
        try
        {
            var wait = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"{binary} exited with code {process.ExitCode} at start-up.");
                try
                {
                    using var response = await vm.Http.GetAsync("/health");
                    if (response.IsSuccessStatusCode) return vm;
                }
                catch (HttpRequestException) { } // not listening yet
                if (wait.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{binary} did not answer /health within 60 s.");
                await Task.Delay(20);
            }
        }
        catch
        {
            await vm.DisposeAsync();
            throw;
        }
    }

    /// <summary>A gauge or counter from its <c>/metrics</c>, by the full series text (name and labels).</summary>
    public async Task<double> MetricAsync(string series)
    {
        var text = await Http.GetStringAsync("/metrics");
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (line.StartsWith(series) && line.Length > series.Length && line[series.Length] == ' ')
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
        }
        return 0;
    }

    /// <summary>Stopped by its process id: SIGTERM (it flushes and exits), SIGKILL after 10 s; the data goes too.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            if (OperatingSystem.IsLinux()) _ = AppProcess.SendSignal(_process.Id, 15);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException)
            {
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        Http.Dispose();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The reference file's samples, repeated pass after pass, in VictoriaMetrics' JSON-line import format
/// (<c>/api/v1/import</c>: one line per series with its values and millisecond timestamps). Pass p is stamped
/// <c>origin + p seconds</c>: one sample per series per second, the file's natural rate.</summary>
internal sealed class VmImport
{
    private const int PassesPerRequest = 100;

    private VmImport(List<byte[]> bodies, long samples, int series, int passes, long originMs)
    {
        Bodies = bodies;
        Samples = samples;
        Series = series;
        Passes = passes;
        OriginMs = originMs;
    }

    public List<byte[]> Bodies { get; }
    public long Samples { get; }
    public int Series { get; }
    public int Passes { get; }
    public long OriginMs { get; }

    public long PassMs(int pass) => OriginMs + pass * 1000L;

    /// <summary>Enough whole passes for at least <paramref name="minSamples"/> samples, built before any clock starts.</summary>
    public static VmImport Build(long minSamples)
    {
        var series = new List<(string Labels, double Value)>();
        using (var reader = TelemetryCsvReader.Open(File.OpenRead(Paths.ReferenceCsv), "reference.csv", new TelemetryCsvOptions("bench-host")))
        {
            foreach (var result in reader.ReadAll())
            {
                if (result.Row is not { } row) continue;
                foreach (var metric in row.Metrics)
                {
                    var labels = JsonSerializer.Serialize(new Dictionary<string, string>
                    {
                        ["__name__"] = metric.Name,
                        ["uuid"] = row.Gpu.Uuid,
                        ["Hostname"] = row.Gpu.Hostname,
                        ["gpu"] = row.Gpu.GpuIndex.ToString(CultureInfo.InvariantCulture),
                        ["device"] = row.Gpu.Device,
                        ["modelName"] = row.Gpu.Model,
                    });
                    series.Add((labels, metric.Value));
                }
            }
        }
        var passes = (int)((minSamples + series.Count - 1) / series.Count);
        // Whole seconds, an hour clear of the present (VictoriaMetrics rejects samples too far in the future).
        var originMs = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - passes - 3600) * 1000;
        var bodies = new List<byte[]>();
        var text = new StringBuilder();
        for (var first = 0; first < passes; first += PassesPerRequest)
        {
            var count = Math.Min(PassesPerRequest, passes - first);
            text.Clear();
            foreach (var (labels, value) in series)
            {
                text.Append("{\"metric\":").Append(labels).Append(",\"values\":[");
                var formatted = value.ToString("R", CultureInfo.InvariantCulture);
                for (var p = 0; p < count; p++) text.Append(p == 0 ? "" : ",").Append(formatted);
                text.Append("],\"timestamps\":[");
                for (var p = 0; p < count; p++) text.Append(p == 0 ? "" : ",").Append(originMs + (first + p) * 1000L);
                text.Append("]}\n");
            }
            bodies.Add(Encoding.UTF8.GetBytes(text.ToString()));
        }
        return new VmImport(bodies, (long)passes * series.Count, series.Count, passes, originMs);
    }

    /// <summary>Posts every body, two requests at a time (the streamer's two workers).</summary>
    public async Task PostAllAsync(HttpClient http)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Bodies.Count)
            {
                using var content = new ByteArrayContent(Bodies[i]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync("/api/v1/import", content);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"VictoriaMetrics import answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        })));
    }
}

/// <summary>How fast N samples became queryable: from process start, from the first sample stored, and over the last
/// three quarters (steady state), with the store process's CPU per sample over those three quarters; for a store fed by
/// the harness, also from the first body sent (NaN otherwise).</summary>
internal sealed record IngestTiming(long Samples, double FromStartPerSecond, double FirstStoredSeconds, double FromFirstPerSecond,
    double SteadyPerSecond, double SteadyCpuMicrosecondsPerSample, double TotalSeconds, double FromFeedPerSecond);

/// <summary>Latencies in ms; CPU in ms of the server process per request.</summary>
internal sealed record QueryTiming(List<double> Full, List<double> Tenth, double FullCpuMs, double TenthCpuMs, int FullSamples, int TenthSamples, long FullBytes);

/// <summary>Ours only: <c>/series</c> over the whole window (the dashboard's chart request), taking turns with the raw
/// queries; CPU in ms per request.</summary>
internal sealed record SeriesTiming(List<double> Latencies, double CpuMs, int Points, long Bytes, BytesFloor Floor);

/// <summary>One whole-window answer and one <c>/series</c> answer of ours, served from memory by <see cref="BytesServer"/>
/// in the same turns as the real queries: latencies in ms.</summary>
internal sealed record BytesFloor(List<double> Full, List<double> Series);

internal static partial class Figures
{
    private const string StoredCounter = "telemetry_samples_stored_total";

    /// <summary>
    /// Figure 8: the pipeline against VictoriaMetrics, same samples, same run. Ingest: the embedded service (SQLite,
    /// RATE=0, LOOP=true, as shipped) until N samples are committed, and VictoriaMetrics fed the same N samples
    /// (the reference file pass after pass) through <c>/api/v1/import</c>; both timed by polling their own counter
    /// every 20 ms. Queries: with the windows full (247 GPUs x 10,000 = 2.47M samples; the service restarted with
    /// nothing left to stream, so no ingest competes), sequential requests for one random GPU's whole window and a
    /// 10% time window — ours over REST, VictoriaMetrics' through <c>/api/v1/export</c> over the same 10,000 and
    /// 1,000 samples of that GPU (10 series).
    /// </summary>
    public static async Task VictoriaMetricsAsync(Reporter reporter, bool quick)
    {
        Console.WriteLine("\n== Figure 8: side by side with VictoriaMetrics ==");
        var binary = VictoriaMetrics.EnsureInstalled();
        var import = VmImport.Build(4_000_000);
        Console.WriteLine($"    {import.Samples:N0} samples: {import.Passes:N0} passes of {import.Series:N0} series, {import.Bodies.Count} import requests");
        var (fullRequests, tenthRequests) = quick ? (200, 800) : (480, 2400);
        var warmUp = TimeSpan.FromSeconds(quick ? 10 : 30);

        var dataDir = Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
        IngestTiming ours, theirs;
        QueryTiming ourQueries, theirQueries;
        SeriesTiming ourSeries;
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["CSV_FILE"] = Paths.ReferenceCsv,
                ["RATE"] = "0",
                ["LOOP"] = "true",
                ["CHECKPOINT_ENABLED"] = "true",
                ["DATA_DIR"] = dataDir,
            };
            var clock = Stopwatch.StartNew();
            await using (var service = await AppProcess.StartAsync("Embedded", environment, TimeSpan.FromMinutes(1), healthPortSetting: "PORT"))
            {
                ours = await TimeIngestAsync("ours", clock, TimeSpan.Zero, import.Samples, async () => (long)await service.CounterAsync(StoredCounter),
                    () => service.Cpu, settled: null, feeding: null, fedFrom: null);
            }

            clock.Restart();
            await using var vm = await VictoriaMetrics.StartAsync(binary, clock);
            var feedStarted = clock.Elapsed;
            var posting = import.PostAllAsync(vm.Http);
            theirs = await TimeIngestAsync("VictoriaMetrics", clock, vm.StartedAt, import.Samples,
                async () => (long)await vm.MetricAsync("vm_rows_added_to_storage_total"), () => vm.Cpu,
                // Rows still pending are not searchable yet: done means every row added and none pending.
                settled: async () => await vm.MetricAsync("vm_pending_rows{type=\"storage\"}") == 0, feeding: posting, fedFrom: feedStarted);
            await posting;

            // Our store, served by a fresh process with nothing to stream, beside VictoriaMetrics with its 4M samples.
            environment["CSV_FILE"] = HeaderOnlyCsv(dataDir);
            environment["LOOP"] = "false";
            await using var idle = await AppProcess.StartAsync("Embedded", environment, TimeSpan.FromMinutes(1), healthPortSetting: "PORT");
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{idle.HealthPort}"), Timeout = TimeSpan.FromMinutes(2) };
            var ourPaths = await OurPathsAsync(api, () => idle.Cpu);
            var theirPaths = await VmPathsAsync(vm, import);
            (ourQueries, theirQueries, ourSeries) = await SideBySideAsync(ourPaths, theirPaths, warmUp, fullRequests, tenthRequests);
        }
        finally
        {
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }

        foreach (var (kind, what, real, baseline, cpu, baselineCpu, requests, samples, vmSamples) in new[]
        {
            ("full", $"whole window ({ourQueries.FullSamples:N0} samples of one GPU, {ourQueries.FullBytes / 1024:N0} KiB)", ourQueries.Full, theirQueries.Full,
                ourQueries.FullCpuMs, theirQueries.FullCpuMs, fullRequests, ourQueries.FullSamples, theirQueries.FullSamples),
            ("tenth", $"10% time window (~{ourQueries.TenthSamples:N0} samples)", ourQueries.Tenth, theirQueries.Tenth,
                ourQueries.TenthCpuMs, theirQueries.TenthCpuMs, tenthRequests, ourQueries.TenthSamples, theirQueries.TenthSamples),
        })
        {
            var p99 = Stats.Percentile(real, 99);
            var vmP99 = Stats.Percentile(baseline, 99);
            reporter.Add(new Figure($"8-{kind}-p99", $"Query p99 vs VictoriaMetrics, {what}, 1 client, 247 GPUs full (2.47M samples), sqlite",
                p99, "ms", vmP99, $"VictoriaMetrics {VictoriaMetricsVersion(binary)} /api/v1/export of the same GPU's {vmSamples:N0} samples, same run",
                "p99 <= 2x VictoriaMetrics", p99 <= 2 * vmP99,
                $"p50 {Stats.Percentile(real, 50):0.00} vs {Stats.Percentile(baseline, 50):0.00} ms; server process CPU {cpu:0.00} vs " +
                $"{baselineCpu:0.00} ms/request; {requests} sequential requests each; ours {samples:N0} samples/response"));
        }
        {
            // The issue asks for /series beside the raw whole-window query: the baseline is our own raw query, same
            // process and run, with VictoriaMetrics' whole-window export in the note for scale.
            var p99 = Stats.Percentile(ourSeries.Latencies, 99);
            var rawP99 = Stats.Percentile(ourQueries.Full, 99);
            reporter.Add(new Figure("8-series-p99", $"Query p99, /series over the whole window ({ourSeries.Points} points x 10 metrics, " +
                $"{ourSeries.Bytes / 1024:N0} KiB), 1 client, 247 GPUs full, sqlite", p99, "ms", rawP99,
                "our raw whole-window query (8-full), taking turns with it", "well under the raw query", p99 <= 0.5 * rawP99,
                $"p50 {Stats.Percentile(ourSeries.Latencies, 50):0.00} vs {Stats.Percentile(ourQueries.Full, 50):0.00} ms; server process CPU " +
                $"{ourSeries.CpuMs:0.00} vs {ourQueries.FullCpuMs:0.00} ms/request; VictoriaMetrics whole-window " +
                $"export p99 {Stats.Percentile(theirQueries.Full, 99):0.00} ms; the same bytes from memory (8-series-floor): " +
                $"{FloorRatio(ourSeries.Floor):0.00}; {ourSeries.Latencies.Count} sequential requests"));
            // No target: the floor under 8-series. Both answers' bytes sent by a process that does nothing else, in the same
            // turns, say how low 8-series could go with no store read, no bucketing and no formatting at all.
            reporter.Add(new Figure("8-series-floor", $"Query p99, one /series answer ({ourSeries.Bytes / 1024:N0} KiB) from memory vs one whole-window " +
                $"answer ({ourQueries.FullBytes / 1024:N0} KiB) from memory, a bare Kestrel process, same turns",
                Stats.Percentile(ourSeries.Floor.Series, 99), "ms", Stats.Percentile(ourSeries.Floor.Full, 99), "the whole-window answer's bytes from memory, same turns",
                Note: $"p50 {Stats.Percentile(ourSeries.Floor.Series, 50):0.00} vs {Stats.Percentile(ourSeries.Floor.Full, 50):0.00} ms; the lowest " +
                $"ratio 8-series could show with answers of these sizes; {ourSeries.Floor.Series.Count} sequential requests each"));
        }
        static double FloorRatio(BytesFloor floor) => Stats.Percentile(floor.Series, 99) / Stats.Percentile(floor.Full, 99);
        foreach (var (id, name, real, baseline) in new[]
        {
            ("8-ingest-start", "from process start until the last is queryable", ours.FromStartPerSecond, theirs.FromStartPerSecond),
            ("8-ingest-steady", "steady state (the last three quarters of the run)", ours.SteadyPerSecond, TheirSteady(theirs)),
        })
        {
            reporter.Add(new Figure(id, $"Ingest vs VictoriaMetrics, {ours.Samples:N0} samples, {name}", real, "samples/s", baseline,
                "VictoriaMetrics, the same samples through /api/v1/import, same run", ">= 0.3x VictoriaMetrics", real >= 0.3 * baseline,
                $"ours: first sample stored {ours.FirstStoredSeconds:0.00} s after start, {ours.FromFirstPerSecond:N0}/s from then, " +
                $"{ours.TotalSeconds:0.0} s in all, service CPU {ours.SteadyCpuMicrosecondsPerSample:0.00} us/sample (steady); VictoriaMetrics: first row stored " +
                $"{theirs.FirstStoredSeconds:0.00} s after start, {theirs.FromFirstPerSecond:N0}/s from then, {theirs.TotalSeconds:0.0} s in all, " +
                (double.IsFinite(theirs.SteadyCpuMicrosecondsPerSample)
                    ? $"CPU {theirs.SteadyCpuMicrosecondsPerSample:0.00} us/sample (steady; the import client's JSON was built before its clock started)"
                    // Its counter passed a quarter and the end in the same poll: no steady stretch to divide its CPU by.
                    : "CPU per sample not measured (no steady stretch)") +
                (id == "8-ingest-steady" && !SteadyMeasured(theirs)
                    ? "; VictoriaMetrics' counter went from under a quarter to all in one 20 ms poll, so its rate over the whole import " +
                      $"(first body sent to last row stored, {theirs.FromFeedPerSecond:N0}/s) stands in for its steady rate"
                    : "")));
        }

        // VictoriaMetrics often stores most of the import between two polls: then the last three quarters have no
        // measurable duration, and its rate over the whole import is the baseline instead of a zero or an infinity.
        // Not its rate from its first row stored: when every row lands in one poll, that divides by a few
        // milliseconds (one quick run on 2026-12-06 reported 2 billion samples/s and a ratio of 0.0006).
        static bool SteadyMeasured(IngestTiming timing) => double.IsFinite(timing.SteadyPerSecond) && timing.SteadyPerSecond > 0;
        static double TheirSteady(IngestTiming timing) => SteadyMeasured(timing) ? timing.SteadyPerSecond : timing.FromFeedPerSecond;
    }

    // Debian's build of 1.79 answers `-version` with an empty line (its build stamp is stripped), so the package
    // manager's record of the installed package is asked next.
    private static string VictoriaMetricsVersion(string binary) =>
        FirstVersionIn(binary, "-version") ?? FirstVersionIn("dpkg-query", "-W -f=${Version} victoria-metrics") ?? "(version unknown)";

    private static string? FirstVersionIn(string program, string arguments)
    {
        try
        {
            using var run = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var text = run.StandardOutput.ReadToEnd() + run.StandardError.ReadToEnd();
            run.WaitForExit();
            var match = System.Text.RegularExpressions.Regex.Match(text, @"v?(\d+\.\d+\.\d+)");
            return match.Success ? match.Groups[1].Value : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="stored"/> every 20 ms until <paramref name="target"/> samples are stored (and
    /// <paramref name="settled"/> says the store has nothing pending). <paramref name="started"/> is when the store's
    /// process started on <paramref name="clock"/>.</summary>
    private static async Task<IngestTiming> TimeIngestAsync(string who, Stopwatch clock, TimeSpan started, long target,
        Func<Task<long>> stored, Func<TimeSpan> cpu, Func<Task<bool>>? settled, Task? feeding, TimeSpan? fedFrom)
    {
        TimeSpan? first = null;
        (TimeSpan At, long Samples, TimeSpan Cpu)? quarter = null;
        var nextReport = clock.Elapsed + TimeSpan.FromSeconds(5);
        long n;
        while (true)
        {
            await Task.Delay(20);
            if (feeding is { IsFaulted: true }) await feeding; // throws the feeder's error
            n = await stored();
            if (n > 0) first ??= clock.Elapsed;
            if (quarter is null && n >= target / 4) quarter = (clock.Elapsed, n, cpu());
            if (n >= target && (settled is null || await settled())) break;
            if (clock.Elapsed - started > TimeSpan.FromMinutes(10)) throw new TimeoutException($"{who}: {n:N0} of {target:N0} samples stored after {clock.Elapsed}.");
            if (clock.Elapsed < nextReport) continue;
            nextReport += TimeSpan.FromSeconds(5);
            Console.WriteLine($"    {who}: {n:N0} samples stored after {(clock.Elapsed - started).TotalSeconds:0} s");
        }
        var end = clock.Elapsed;
        var q = quarter!.Value;
        var total = (end - started).TotalSeconds;
        Console.WriteLine($"    {who}: {n:N0} samples stored and queryable {total:0.0} s after process start");
        return new IngestTiming(target, target / total, (first!.Value - started).TotalSeconds, target / (end - first.Value).TotalSeconds,
            (target - q.Samples) / (end - q.At).TotalSeconds, (cpu() - q.Cpu).TotalSeconds / (target - q.Samples) * 1e6, total,
            fedFrom is { } fed ? target / (end - fed).TotalSeconds : double.NaN);
    }

    /// <summary>One server's two query paths (whole window and 10% window of GPU g), its process CPU, and what one answer
    /// of each holds.</summary>
    private sealed record QueryPaths(HttpClient Http, Func<TimeSpan> Cpu, Func<int, string> Full, Func<int, string> Tenth,
        int FullSamples, int TenthSamples, long FullBytes);

    private static async Task<QueryPaths> OurPathsAsync(HttpClient api, Func<TimeSpan> cpu)
    {
        var uuids = await GpuUuidsAsync(api);
        // Each GPU's 10% window: the times of its window's samples 4,500 and 5,499, so ~1,000 samples (more where
        // several share a time).
        var tenth = new string[uuids.Length];
        int fullSamples = 0, tenthSamples = 0;
        long fullBytes = 0;
        for (var g = 0; g < uuids.Length; g++)
        {
            var body = await api.GetByteArrayAsync(FullPath(uuids[g]));
            using var window = JsonDocument.Parse(body);
            var data = window.RootElement.GetProperty("data");
            var count = data.GetArrayLength();
            string At(int i) => Uri.EscapeDataString(data[Math.Min(i, count - 1)].GetProperty("timestamp").GetString()!);
            tenth[g] = $"/api/v1/gpus/{uuids[g]}/telemetry?limit=10000&start_time={At(count * 45 / 100)}&end_time={At(count * 45 / 100 + count / 10 - 1)}";
            if (g != 0) continue;
            (fullSamples, fullBytes) = (count, body.Length);
            using var part = JsonDocument.Parse(await api.GetByteArrayAsync(tenth[g]));
            tenthSamples = part.RootElement.GetProperty("data").GetArrayLength();
        }
        return new QueryPaths(api, cpu, g => FullPath(uuids[g % uuids.Length]), g => tenth[g % tenth.Length], fullSamples, tenthSamples, fullBytes);

        static string FullPath(string uuid) => $"/api/v1/gpus/{uuid}/telemetry?limit=10000";
    }

    /// <summary><c>GET /api/v1/gpus/{id}/series</c> over the whole window with 500 points (the dashboard's chart
    /// request) for GPU g, with the points per metric and the bytes of one answer.</summary>
    private static async Task<(Func<int, string> Path, int Points, long Bytes)> OurSeriesPathAsync(HttpClient api)
    {
        var uuids = await GpuUuidsAsync(api);
        string Series(int g) => $"/api/v1/gpus/{uuids[g % uuids.Length]}/series?points=500";
        var body = await api.GetByteArrayAsync(Series(0));
        using var first = JsonDocument.Parse(body);
        var points = first.RootElement.GetProperty("series").EnumerateArray().Max(m => m.GetProperty("points").GetArrayLength());
        return (Series, points, body.Length);
    }

    private static async Task<QueryPaths> VmPathsAsync(VictoriaMetrics vm, VmImport import)
    {
        using var list = JsonDocument.Parse(await vm.Http.GetStringAsync("/api/v1/label/uuid/values"));
        var uuids = list.RootElement.GetProperty("data").EnumerateArray().Select(u => u.GetString()!).ToArray();
        // The last 1,000 passes are the window (10,000 samples of a GPU); its 10% is passes 450 to 549 of them.
        var last = import.Passes - 1;
        string Export(int g, int fromPass, int toPass) =>
            $"/api/v1/export?match%5B%5D={Uri.EscapeDataString($"{{uuid=\"{uuids[g % uuids.Length]}\"}}")}" +
            $"&start={import.PassMs(fromPass) / 1000}&end={import.PassMs(toPass) / 1000}";
        string Full(int g) => Export(g, last - 999, last);
        string Tenth(int g) => Export(g, last - 999 + 450, last - 999 + 549);
        return new QueryPaths(vm.Http, () => vm.Cpu, Full, Tenth,
            CountExported(await vm.Http.GetStringAsync(Full(0))), CountExported(await vm.Http.GetStringAsync(Tenth(0))), 0);

        static int CountExported(string lines) => lines.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Sum(line => JsonDocument.Parse(line).RootElement.GetProperty("values").GetArrayLength());
    }

    /// <summary>The uuids of the first 1,000 GPUs the gateway lists.</summary>
    internal static async Task<string[]> GpuUuidsAsync(HttpClient api)
    {
        using var list = JsonDocument.Parse(await api.GetStringAsync("/api/v1/gpus?limit=1000"));
        return [.. list.RootElement.GetProperty("gpus").EnumerateArray().Select(gpu => gpu.GetProperty("uuid").GetString()!)];
    }

    /// <summary>
    /// Both servers measured at the same moments: a warm-up of each (four clients on all paths), then one client taking
    /// turns request by request — first the whole window (our raw query, VictoriaMetrics' export, our <c>/series</c>),
    /// then the 10% window (ours, theirs) — on random GPUs. Measured one after the other, minutes apart, the machine's
    /// slower and quieter spells fell on one server or the other: in one run of unchanged code VictoriaMetrics' own p99
    /// was twice that of the run before (docs/performance.md, "fifth pass"); <c>/series</c>, measured after the others
    /// until the seventh pass, moved between 0.44 and 0.82 of the raw p99 for the same reason.
    /// <para>CPU per request: VictoriaMetrics' and our 10% window's from the turns themselves (each process serves one
    /// path there); our two whole-window paths share a process in the turns, so theirs comes from a quarter as many
    /// requests of each path alone afterwards.</para>
    /// </summary>
    private static async Task<(QueryTiming Ours, QueryTiming Theirs, SeriesTiming Series)> SideBySideAsync(QueryPaths ours, QueryPaths theirs,
        TimeSpan warmUp, int fullRequests, int tenthRequests)
    {
        var series = await OurSeriesPathAsync(ours.Http);
        await using var floor = await BytesFloorAsync(await ours.Http.GetByteArrayAsync(ours.Full(0)), await ours.Http.GetByteArrayAsync(series.Path(0)));
        await WarmUpAsync(ours.Http, warmUp, ours.Full, ours.Tenth, series.Path);
        await WarmUpAsync(theirs.Http, warmUp, theirs.Full, theirs.Tenth);
        await WarmUpAsync(floor.Http, TimeSpan.FromSeconds(5), _ => "/bytes/full", _ => "/bytes/series");
        var theirBefore = theirs.Cpu();
        var full = await TakeTurnsAsync([(ours.Http, ours.Full), (theirs.Http, theirs.Full), (ours.Http, series.Path),
            (floor.Http, _ => "/bytes/full"), (floor.Http, _ => "/bytes/series")], fullRequests);
        var (ourMiddle, theirMiddle) = (ours.Cpu(), theirs.Cpu());
        var tenth = await TakeTurnsAsync([(ours.Http, ours.Tenth), (theirs.Http, theirs.Tenth)], tenthRequests);
        var (ourAfter, theirAfter) = (ours.Cpu(), theirs.Cpu());
        var ourFullCpu = await CpuPerRequestAsync(ours, ours.Full, fullRequests / 4);
        var seriesCpu = await CpuPerRequestAsync(ours, series.Path, fullRequests / 4);
        return (
            new QueryTiming(full[0], tenth[0], ourFullCpu, (ourAfter - ourMiddle).TotalMilliseconds / tenthRequests,
                ours.FullSamples, ours.TenthSamples, ours.FullBytes),
            new QueryTiming(full[1], tenth[1], (theirMiddle - theirBefore).TotalMilliseconds / fullRequests,
                (theirAfter - theirMiddle).TotalMilliseconds / tenthRequests, theirs.FullSamples, theirs.TenthSamples, theirs.FullBytes),
            new SeriesTiming(full[2], seriesCpu, series.Points, series.Bytes, new BytesFloor(full[3], full[4])));
    }

    /// <summary>A <see cref="BytesServer"/> process holding <paramref name="full"/> and <paramref name="series"/>.</summary>
    private static async Task<BytesFloorServer> BytesFloorAsync(byte[] full, byte[] series)
    {
        var directory = Directory.CreateTempSubdirectory("telemetry-bench-bytes-").FullName;
        await File.WriteAllBytesAsync(Path.Combine(directory, "full"), full);
        await File.WriteAllBytesAsync(Path.Combine(directory, "series"), series);
        var process = await AppProcess.StartAsync("BytesServer", new Dictionary<string, string> { ["BYTES_DIR"] = directory }, TimeSpan.FromMinutes(1),
            healthPortSetting: "PORT", dll: typeof(BytesServer).Assembly.Location, arguments: ["child", "bytes"]);
        return new BytesFloorServer(process, directory);
    }

    private sealed class BytesFloorServer(AppProcess process, string directory) : IAsyncDisposable
    {
        public HttpClient Http { get; } = new() { BaseAddress = new Uri($"http://127.0.0.1:{process.HealthPort}"), Timeout = TimeSpan.FromMinutes(2) };

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await process.DisposeAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The server's CPU in ms per request over <paramref name="requests"/> sequential GETs of one path.</summary>
    private static async Task<double> CpuPerRequestAsync(QueryPaths server, Func<int, string> path, int requests)
    {
        var before = server.Cpu();
        await LoadAsync(server.Http, 1, requests, path);
        return (server.Cpu() - before).TotalMilliseconds / requests;
    }

    /// <summary><paramref name="requests"/> sequential GETs of each path, taking turns, each on a GPU drawn at random.
    /// The order of each round is shuffled: with three paths in a fixed rotation, <c>/series</c> followed the other
    /// server twice as often as the raw query did, and a request that follows the other server's is a little slower
    /// (medians 0.03-0.06 ms higher in the seventh pass's runs; the console shows both). Latencies in ms, to the
    /// answer's last byte, one list per path.</summary>
    private static async Task<List<double>[]> TakeTurnsAsync((HttpClient Client, Func<int, string> Path)[] paths, int requests)
    {
        var buffer = new byte[ReadBufferBytes];
        for (var i = 0; i < 8; i++)
        {
            foreach (var (client, path) in paths) await ReadToEndAsync(client, path(i), buffer);
        }
        var latencies = Array.ConvertAll(paths, _ => new List<double>(requests));
        // Printed, not reported: each path's median after a request to the same server and after one to the other.
        var (afterSame, afterOther) = (Array.ConvertAll(paths, _ => new List<double>()), Array.ConvertAll(paths, _ => new List<double>()));
        var random = new Random(0);
        var order = Enumerable.Range(0, paths.Length).ToArray();
        var previous = order[^1];
        for (var i = 0; i < requests; i++)
        {
            random.Shuffle(order);
            foreach (var p in order)
            {
                var url = paths[p].Path(random.Next(1000));
                var clock = Stopwatch.StartNew();
                await ReadToEndAsync(paths[p].Client, url, buffer);
                var ms = clock.Elapsed.TotalMilliseconds;
                latencies[p].Add(ms);
                (paths[previous].Client == paths[p].Client ? afterSame : afterOther)[p].Add(ms);
                previous = p;
            }
        }
        for (var p = 0; p < paths.Length; p++)
        {
            static string Median(List<double> ms) => ms.Count == 0 ? "-" : $"{Stats.Percentile(ms, 50):0.00} ms ({ms.Count})";
            Console.WriteLine($"    {paths[p].Client.BaseAddress!.Authority} {paths[p].Path(0).Split('?')[0].Split('/')[^1]}: p50 after its own " +
                $"server {Median(afterSame[p])}, after the other {Median(afterOther[p])}; p90 {Stats.Percentile(latencies[p], 90):0.00}, slowest " +
                string.Join(", ", latencies[p].Order().TakeLast(8).Select(ms => ms.ToString("0.00", CultureInfo.InvariantCulture))));
        }
        return latencies;
    }
}
