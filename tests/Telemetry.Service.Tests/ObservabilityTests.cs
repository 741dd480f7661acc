using Telemetry.Testing;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Telemetry.Hosting.Observability;
using Telemetry.Service.Tests.Support;
using Telemetry.Streamer;
using Telemetry.Tests.Tracing;

namespace Telemetry.Service.Tests;

/// <summary>Traces and runtime metrics of the embedded host.</summary>
public sealed class ObservabilityTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int Rows = 200, Gpus = 8;
    private readonly TempDirectory _dir = new();

    /// <summary>A CSV only this test streams (its name picks the test's spans out of the process's), one pass.</summary>
    private Dictionary<string, string?> Streaming(out string csvName)
    {
        csvName = $"traced-{Guid.NewGuid():N}.csv";
        return new Dictionary<string, string?>(EmbeddedFactory.Quiet(_dir.File(csvName, Dcgm.File(Dcgm.NumberedRows(Rows, Gpus)))))
        {
            ["BATCH_SIZE"] = "25", // several batches, so the queue's shards gather parts of different traces
        };
    }

    [Fact]
    public async Task A_batch_is_one_trace_from_the_streamers_publish_through_the_queue_to_the_window_append()
    {
        using var recorder = new SpanRecorder();
        await using var host = new EmbeddedFactory(Streaming(out var csvName));
        using var api = host.ClientOn(EmbeddedFactory.ApiPort);
        var status = host.Services.GetRequiredService<StreamerStatus>();
        await Eventually.CompletesAsync(status.Finished, "the streamer finishing its single pass", Timeout);
        await Waiting.WaitForStoredAsync(api, Rows, Timeout);

        var publishes = recorder.PublishesOf(csvName);
        Assert.Equal(status.BatchesPublished, publishes.Count);
        Assert.True(publishes.Count >= Rows / 25, $"{publishes.Count} publish spans");
        Assert.All(publishes, publish => Assert.Equal(default, publish.ParentSpanId)); // each batch starts its own trace
        Assert.Equal(publishes.Count, publishes.Select(p => p.TraceId).Distinct().Count());

        // Deliveries end right after their append, just before or after the samples become readable: wait for them.
        var followed = (Missing: new List<string> { "nothing checked yet" }, Stored: 0L);
        await WaitForAsync(() =>
            {
                followed = recorder.Follow(publishes);
                return followed.Missing.Count == 0 && followed.Stored == Rows;
            },
            () => $"every batch's trace reaching a window append, {Rows} samples stored under them; " +
                  $"missing: {string.Join("; ", followed.Missing.Take(5))}; stored {followed.Stored}");

        // In process the queue hands the publish context itself on, so each delivery is the publish span's child.
        var publishIds = publishes.Select(p => p.SpanId).ToHashSet();
        var deliveries = recorder.Spans.Where(s => s.OperationName == PipelineTracing.DeliverySpan && publishIds.Contains(s.ParentSpanId)).ToList();
        Assert.All(publishes, publish => Assert.Contains(deliveries, d => d.ParentSpanId == publish.SpanId));
        Assert.All(deliveries, delivery => Assert.Equal("in-process", delivery.GetTagItem("messaging.system")));
    }

    [Fact]
    public async Task A_telemetry_query_is_traced_with_the_gpu_it_read()
    {
        using var recorder = new SpanRecorder();
        await using var host = new EmbeddedFactory(Streaming(out _));
        using var api = host.ClientOn(EmbeddedFactory.ApiPort);
        await Waiting.WaitForStoredAsync(api, Rows, Timeout);
        var uuid = $"GPU-{Gpus - 1:D4}";

        var page = await api.GetJsonAsync($"/api/v1/gpus/{uuid}/telemetry?limit=7");

        Assert.Equal(7, page["data"]!.AsArray().Count);
        Assert.Contains(recorder.Spans, span => span.OperationName == PipelineTracing.QuerySpan
            && (string?)span.GetTagItem("telemetry.gpu.uuid") == uuid && Equals(span.GetTagItem("telemetry.query.samples"), 7)
            && span.Parent?.Kind == System.Diagnostics.ActivityKind.Server); // inside the request's server span
    }

    [Fact]
    public async Task Without_an_OTLP_endpoint_no_tracer_is_registered()
    {
        await using var host = new EmbeddedFactory(EmbeddedFactory.Quiet(_dir.File("empty.csv", Dcgm.Header + "\n")));
        _ = host.Server; // builds and starts the host
        Assert.Null(host.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_the_pipeline_spans_are_exported_there()
    {
        // A stand-in OTLP/HTTP receiver: it keeps the bodies posted to /v1/traces (protobuf, whose strings are plain UTF-8).
        var bodies = new ConcurrentQueue<byte[]>();
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        await using var collector = receiver.Build();
        collector.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            bodies.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await collector.StartAsync();
        var endpoint = collector.Urls.Single();

        var settings = Streaming(out var csvName);
        settings[ObservabilityExtensions.EndpointSetting] = endpoint;
        settings[ObservabilityExtensions.ProtocolSetting] = "http/protobuf";
        settings["OTEL_BSP_SCHEDULE_DELAY"] = "100"; // export every 100 ms instead of every 5 s
        await using var host = new EmbeddedFactory(settings);
        _ = host.Server;
        Assert.NotNull(host.Services.GetService<TracerProvider>());

        bool Exported(string text) => bodies.Any(body => Encoding.UTF8.GetString(body).Contains(text, StringComparison.Ordinal));
        await WaitForAsync(() => Exported(csvName) && Exported(PipelineTracing.AppendSpan) && Exported("telemetry-embedded"),
            () => $"spans naming {csvName}, an append and the service telemetry-embedded at {endpoint}/v1/traces ({bodies.Count} posts so far)");
    }

    [Fact]
    public async Task Metrics_show_the_runtime_meters_of_ASP_NET_Core_Kestrel_HttpClient_and_the_runtime_without_event_counter_duplicates()
    {
        var (apiPort, metricsPort) = (FreePort(), FreePort());
        var settings = EmbeddedFactory.Quiet(_dir.File("empty.csv", Dcgm.Header + "\n"));
        settings["PORT"] = apiPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["METRICS_PORT"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var host = new EmbeddedFactory(settings);
        host.UseKestrel(); // the Kestrel meter needs the real server
        host.StartServer();
        // One HttpClient request (System.Net.Http meter) served by Kestrel (ASP.NET Core hosting meter) on a connection
        // that then closes (Kestrel meter: connection duration).
        using var client = new HttpClient();
        using (var health = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{apiPort}/health"))
        {
            health.Headers.ConnectionClose = true;
            (await client.SendAsync(health)).EnsureSuccessStatusCode();
        }

        string text = "";
        string[] expected =
        [
            "microsoft_aspnetcore_hosting_http_server_request_duration_count",
            "microsoft_aspnetcore_server_kestrel_kestrel_connection_duration_count",
            "system_net_http_http_client_request_duration_count",
            "system_runtime_dotnet_assembly_count",
        ];
        // A finished connection and client request are recorded when they end, just after the answer: wait for them.
        await WaitForAsync(async () =>
            {
                text = await client.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
                return expected.All(series => PrometheusText.Sum(text, series) > 0);
            },
            () => $"series {string.Join(", ", expected.Where(series => !(PrometheusText.Sum(text, series) > 0)))} on /metrics");
        // ASP.NET Core's own buckets (5 ms up), not prometheus-net's default that starts at 10 ms.
        Assert.Contains("microsoft_aspnetcore_hosting_http_server_request_duration_bucket{", text);
        Assert.Contains("le=\"0.005\"", text);
        // The EventCounter adapter is off: its copies of the runtime figures and internal counters are absent.
        Assert.DoesNotContain("system_runtime_cpu_usage", text);
        Assert.DoesNotContain("private_internaldiagnostics", text);
        // prometheus-net's own series stay.
        Assert.NotNull(PrometheusText.Sum(text, "process_cpu_seconds_total"));
    }

    private static Task WaitForAsync(Func<bool> condition, Func<string> what) => WaitForAsync(() => Task.FromResult(condition()), what);

    private static async Task WaitForAsync(Func<Task<bool>> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited {Timeout.TotalSeconds} s for {what()}");
            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _dir.Dispose();
}
