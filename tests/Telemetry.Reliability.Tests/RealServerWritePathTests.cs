using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// The probes of issue 15 that need a real Kestrel (ports, body rates, chunked encoding, process memory, the
/// SQLite file): the embedded host as a child process, imports enabled as on a trusted network, checkpoints on.
/// </summary>
public sealed partial class RealServerWritePathTests(RealServerWritePathTests.Host host, ITestOutputHelper output)
    : IClassFixture<RealServerWritePathTests.Host>
{
    public sealed class Host : IAsyncLifetime
    {
        private readonly TempDirectory _data = new();
        internal HostProcess Process { get; private set; } = null!;

        public string Database => Path.Combine(_data.Path, "telemetry.db");

        public async Task InitializeAsync()
        {
            Process = HostProcess.Start(new Dictionary<string, string>
            {
                ["CSV_FILE"] = TestPaths.TinyCsv,
                ["CHECKPOINT_ENABLED"] = "true",
                ["DATA_DIR"] = _data.Path,
                ["LOOP"] = "false",
                ["RATE"] = "0",
                ["IMPORTS_ENABLED"] = "true",
            });
            await Process.WaitForSamplesAsync(20, TimeSpan.FromSeconds(60));
        }

        public Task DisposeAsync()
        {
            Process.Dispose();
            _data.Dispose();
            return Task.CompletedTask;
        }

        /// <summary>Bytes the database holds on disk: the file and its write-ahead log.</summary>
        public long DiskBytes() => new[] { Database, Database + "-wal" }.Where(File.Exists).Sum(path => new FileInfo(path).Length);
    }

    private HostProcess Server => host.Process;

    private static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task Metrics_and_the_api_answer_only_on_their_own_port_whatever_the_host_header_says()
    {
        using var api = Client(Server.Port);
        using var metrics = Client(Server.MetricsPort);

        using (var forged = new HttpRequestMessage(HttpMethod.Get, "/metrics"))
        {
            forged.Headers.Host = $"x:{Server.MetricsPort}";
            Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(forged)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync("/api/v1/gpus")).StatusCode);
        using (var forged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/gpus"))
        {
            forged.Headers.Host = $"x:{Server.Port}";
            Assert.Equal(HttpStatusCode.NotFound, (await metrics.SendAsync(forged)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync("/openapi/v1.json")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await metrics.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/gpus")).StatusCode);
        // A container health probe names no port (or another one) in its Host header.
        Assert.StartsWith("HTTP/1.1 200", await RawHttp.SendAsync(Server.Port, "GET /health HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 200", await RawHttp.SendAsync(Server.Port, "GET /health/ready HTTP/1.1\r\nHost: 10.0.0.7:80\r\nConnection: close\r\n\r\n"));
        output.WriteLine($"FIGURE port-binding: /metrics on the API port with Host x:{Server.MetricsPort} → 404; /api, /health, /openapi on the metrics port → 404; /health with a port-less Host → 200");
    }

    [Fact]
    public async Task Invented_methods_are_counted_under_one_metrics_label()
    {
        using var api = Client(Server.Port);
        using var metrics = Client(Server.MetricsPort);
        var methods = Enumerable.Range(0, 50).Select(i => $"INVENTED{i}").Append(new string('M', 12 * 1024)).ToList();
        await SendAllAsync(api, ["WARMUP"]); // the OTHER series exist from here on
        var before = await metrics.GetStringAsync("/metrics");
        await SendAllAsync(api, methods);
        var after = await metrics.GetStringAsync("/metrics");
        Assert.DoesNotContain("INVENTED", after);
        Assert.DoesNotContain("MMMMMMMM", after);
        Assert.Contains("method=\"OTHER\"", after);
        // Every method label of every series (prometheus-net's http_request* and ASP.NET Core's own meters, which
        // fold unknown methods into "_OTHER") comes from a fixed set.
        var labels = MethodLabels().Matches(after).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Subset(new HashSet<string> { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "OTHER", "_OTHER" }, labels);
        Assert.Equal(SeriesCount(before), SeriesCount(after));
        var grew = HttpSeriesBytes(after) - HttpSeriesBytes(before);
        Assert.True(grew < 1024, $"the http_request series grew by {grew} bytes"); // counters gain digits, nothing more
        output.WriteLine($"FIGURE metric-labels: {methods.Count * 2} requests with {methods.Count} invented methods (one of 12 KB) → " +
                         $"0 new http_request series, their text {grew:+0;-0} bytes, all counted as method=\"OTHER\"; method labels seen: {string.Join(", ", labels.Order())}");
    }

    [System.Text.RegularExpressions.GeneratedRegex("method=\"([^\"]*)\"")]
    private static partial System.Text.RegularExpressions.Regex MethodLabels();

    private static int HttpSeriesBytes(string scrape) =>
        scrape.Split('\n').Where(line => line.StartsWith("http_request", StringComparison.Ordinal)).Sum(line => line.Length + 1);

    private static async Task SendAllAsync(HttpClient api, IEnumerable<string> methods)
    {
        foreach (var method in methods)
        {
            foreach (var path in new[] { "/api/v1/gpus", "/health" })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                using var response = await api.SendAsync(request);
                // The API answers 405; health checks answer any method.
                Assert.True((int)response.StatusCode < 500, $"{method[..Math.Min(12, method.Length)]} {path} → {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public async Task A_huge_form_field_is_refused_without_being_read_into_memory()
    {
        const long fieldBytes = 95L * 1024 * 1024;
        const string boundary = "b0undary";
        var preamble = $"--{boundary}\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\n";
        var rest = $"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nx\r\n--{boundary}--\r\n";
        var length = preamble.Length + fieldBytes + rest.Length;
        var head = $"POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n";

        var baseline = Server.ResidentBytes();
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Server.ResidentBytes());
                await Task.Delay(20);
            }
        });
        var answer = await RawHttp.SendAsync(Server.Port, head, async (stream, token) =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(preamble), token);
            await RawHttp.RepeatAsync(stream, (byte)'a', fieldBytes, token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(rest), token);
        });
        await Task.Delay(500); // the server may still be draining what was sent
        await sampling.CancelAsync();
        await sampler;

        Assert.StartsWith("HTTP/1.1 400", answer);
        var growth = peak - baseline;
        Assert.True(growth < 64L * 1024 * 1024, $"resident memory grew by {growth / 1048576} MB");
        output.WriteLine($"FIGURE form-field: a 95 MB text field before the file → 400; resident memory {baseline / 1048576} MB → peak {peak / 1048576} MB");
    }

    [Fact]
    public async Task Refused_uploads_leave_nothing_on_disk_and_a_finished_import_gives_its_space_back()
    {
        var before = host.DiskBytes();
        const long declared = 101L * 1024 * 1024;
        var oversized = Enumerable.Range(0, 4).Select(_ => RawHttp.SendAsync(Server.Port,
            $"POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n",
            (stream, token) => RawHttp.RepeatAsync(stream, (byte)'a', declared, token)));
        foreach (var answer in await Task.WhenAll(oversized)) Assert.StartsWith("HTTP/1.1 413", answer);
        var chunked = await RawHttp.SendAsync(Server.Port,
            "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            async (stream, token) =>
            {
                for (var i = 0; i < 1600; i++) await stream.WriteAsync(Encoding.ASCII.GetBytes($"10000\r\n{new string('a', 65536)}\r\n"), token);
            });
        Assert.StartsWith("HTTP/1.1 411", chunked);
        var afterRefused = host.DiskBytes();
        Assert.True(afterRefused - before < 1024 * 1024, $"refused uploads grew the database by {afterRefused - before} bytes");

        // An accepted import of ~6 MB whose rows are all rejected: its chunks are stored, then deleted and the
        // space returned when it finishes.
        var csv = new StringBuilder("timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n");
        while (csv.Length < 6 * 1024 * 1024) csv.Append("\"2025-07-18T20:42:34Z\",\"M\",\"0\",\"nvidia0\",\"GPU-x\",\"H100\",\"h\",\"\",\"\",\"\",\"not-a-number\",\"\"\n");
        using var api = Client(Server.Port);
        using var accepted = await api.PostAsync("/api/v1/imports", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var peak = host.DiskBytes();
        var status = await WaitForFinalAsync(api, accepted.Headers.Location!.ToString());
        Assert.Equal("completed", (string)status["status"]!);
        Assert.True((long)status["rows_rejected"]! > 10_000);
        // The status turns final just before the file is deleted and the space returned: wait for that, bounded.
        var afterImport = host.DiskBytes();
        for (var waited = Stopwatch.StartNew(); afterImport - before >= 1024 * 1024 && waited.Elapsed < TimeSpan.FromSeconds(15); afterImport = host.DiskBytes())
        {
            await Task.Delay(50);
        }
        Assert.True(afterImport - before < 1024 * 1024, $"the finished import left the database {afterImport - before} bytes larger");
        output.WriteLine($"FIGURE upload-disk: 4 parallel 101 MB uploads → 413 each, a chunked upload → 411, database +{(afterRefused - before) / 1024} KB; " +
                         $"a {csv.Length / 1048576.0:F1} MB import: database {before / 1024} KB → {peak / 1024} KB while stored → {afterImport / 1024} KB after it finished");
    }

    [Fact]
    public async Task Uploads_arriving_beyond_the_concurrency_bound_get_429_with_retry_after()
    {
        // IMPORT_MAX_UPLOADS is 2: hold two uploads open mid-body, then try a third. The held bodies keep arriving,
        // a row every 100 ms (~1.2 kB/s), so Kestrel's minimum body data rate (240 B/s after a 5 s grace) never
        // ends them however long a loaded machine takes to get the third request through.
        const string csv = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n";
        var row = Encoding.ASCII.GetBytes("\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\",\"nvidia0\",\"GPU-held\",\"H100\",\"h\",\"\",\"\",\"\",\"1\",\"\"\n");
        var head = $"POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {csv.Length + 1_000_000}\r\nConnection: close\r\n\r\n";
        using var release = new CancellationTokenSource();
        var sent = new[] { new TaskCompletionSource(), new TaskCompletionSource() };
        var held = sent.Select(done => RawHttp.SendAsync(Server.Port, head, async (stream, token) =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(csv), token);
            done.TrySetResult();
            // The body is never completed: until released, rows trickle in; then it stops short of its length.
            using var either = CancellationTokenSource.CreateLinkedTokenSource(token, release.Token);
            while (true)
            {
                await Task.Delay(100, either.Token);
                await stream.WriteAsync(row, either.Token);
            }
        }, TimeSpan.FromSeconds(60))).ToList();
        await Task.WhenAll(sent.Select(s => s.Task)).WaitAsync(TimeSpan.FromSeconds(10));

        string third = "";
        for (var attempt = 0; attempt < 100 && !third.StartsWith("HTTP/1.1 429", StringComparison.Ordinal); attempt++)
        {
            third = await RawHttp.SendAsync(Server.Port, head.Replace($"{csv.Length + 10}", $"{csv.Length}"),
                (stream, token) => stream.WriteAsync(Encoding.ASCII.GetBytes(csv), token).AsTask());
            if (!third.StartsWith("HTTP/1.1 429", StringComparison.Ordinal)) await Task.Delay(50); // the held ones may not be read yet
        }
        Assert.StartsWith("HTTP/1.1 429", third);
        Assert.Contains("Retry-After:", third, StringComparison.OrdinalIgnoreCase);
        await release.CancelAsync();
        // Released, the held uploads end short of their Content-Length: each gets a 4xx or a closed connection.
        foreach (var answer in await Task.WhenAll(held)) Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), answer);
        output.WriteLine("FIGURE upload-concurrency: with 2 uploads arriving (IMPORT_MAX_UPLOADS=2) a third → 429 with Retry-After");
    }

    [Fact]
    public async Task Slow_truncated_and_malformed_upload_bodies_get_4xx_and_no_stack_trace()
    {
        var slow = Stopwatch.StartNew();
        var trickle = await RawHttp.SendAsync(Server.Port,
            "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
            async (stream, token) =>
            {
                while (true)
                {
                    await stream.WriteAsync("t"u8.ToArray(), token);
                    await Task.Delay(1000, token);
                }
            }, TimeSpan.FromSeconds(40));
        Assert.StartsWith("HTTP/1.1 408", trickle);
        var slowSeconds = slow.Elapsed.TotalSeconds;

        var malformed = await RawHttp.SendAsync(Server.Port,
            "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            (stream, token) => stream.WriteAsync("zz\r\nnot a chunk\r\n"u8.ToArray(), token).AsTask());
        Assert.StartsWith("HTTP/1.1 4", malformed);

        // Ends early: 10 bytes of a declared 100, then the client closes its side. Kestrel takes the half-close
        // for the client leaving, so there may be no one to answer; there must be no 500 and no stack trace.
        using var api = Client(Server.Port);
        var truncated = await RawHttp.SendAsync(Server.Port,
            "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100\r\nConnection: close\r\n\r\n",
            async (stream, token) =>
            {
                await stream.WriteAsync("timestamp,"u8.ToArray(), token);
                await stream.FlushAsync(token);
                ((System.Net.Sockets.NetworkStream)stream).Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            });
        Assert.True(truncated.Length == 0 || truncated.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), truncated);

        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/health")).StatusCode);
        Assert.DoesNotContain("   at ", Server.Output);
        Assert.DoesNotContain("Unhandled exception", Server.Output, StringComparison.OrdinalIgnoreCase);
        output.WriteLine($"FIGURE bad-bodies: a body at 1 byte/s → 408 after {slowSeconds:F1} s; a malformed chunked body → {malformed[9..12]}; " +
                         $"a body cut short → {(truncated.Length == 0 ? "connection closed" : truncated[9..12])}; no stack trace in the log");
    }

    private static int SeriesCount(string scrape) =>
        scrape.Split('\n').Count(line => line.StartsWith("http_request", StringComparison.Ordinal));

    private static async Task<JsonObject> WaitForFinalAsync(HttpClient client, string location)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var status = (await client.GetFromJsonAsync<JsonObject>(location))!;
            if ((string)status["status"]! is "completed" or "failed" or "cancelled") return status;
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{location} is still {status["status"]}");
            await Task.Delay(50);
        }
    }
}
