using System.Diagnostics;
using System.Globalization;
using System.Text;
using Telemetry.Hosting.Observability;
using Telemetry.Tests.Tracing;

namespace Telemetry.Dapr.Tests;

/// <summary>
/// W3C trace context through the sidecars: the streamer's publish call carries its span as the gRPC
/// <c>traceparent</c> header, the sidecar double stamps it on the CloudEvent as daprd does, bulk deliveries hand each
/// entry's CloudEvent to the collector, and the collector's delivery and append spans continue that trace.
/// </summary>
public sealed class DaprTracingTests : IDisposable
{
    private const int Rows = 200, Gpus = 8;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _csv = Path.Combine(Path.GetTempPath(), $"traced-dapr-{Guid.NewGuid():N}.csv");

    public DaprTracingTests()
    {
        // DCGM rows over a few GPUs; a name no other test streams picks this test's spans out of the process's.
        var text = new StringBuilder("timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n");
        for (var i = 0; i < Rows; i++)
        {
            var gpu = i % Gpus;
            text.Append(CultureInfo.InvariantCulture,
                $"\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"{gpu % 2}\",\"nvidia{gpu % 2}\",\"GPU-trace-{gpu:D2}\",\"NVIDIA H100\",\"trace-host-{gpu / 2}\",\"\",\"\",\"\",\"{i}\",\"\"\n");
        }
        File.WriteAllText(_csv, text.ToString());
    }

    [Fact]
    public async Task A_batch_published_through_the_streamers_sidecar_and_stored_by_the_collector_is_one_trace()
    {
        using var recorder = new SpanRecorder();
        await using var cluster = new DaprCluster();
        await cluster.StartCollectorAsync();
        var streamer = await cluster.StartStreamerAsync(new Dictionary<string, string>
        {
            ["CSV_FILE"] = _csv,
            ["RATE"] = "0",
            ["LOOP"] = "false",
            ["WORKERS"] = "2",
            ["BATCH_SIZE"] = "25", // several messages, so bulk deliveries carry entries of different traces
        });
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);

        var publishes = recorder.PublishesOf(Path.GetFileName(_csv));
        Assert.Equal(streamer.StreamerStatus.BatchesPublished, publishes.Count);
        Assert.True(publishes.Count >= Rows / 25, $"{publishes.Count} publish spans");
        Assert.Equal(publishes.Count, publishes.Select(p => p.TraceId).Distinct().Count());

        var followed = (Missing: new List<string> { "nothing checked yet" }, Stored: 0L);
        try
        {
            await Eventually.TrueAsync(() =>
                {
                    followed = recorder.Follow(publishes);
                    return followed.Missing.Count == 0 && followed.Stored == Rows;
                },
                $"every batch's trace reaching a window append through the sidecars, {Rows} samples stored under them", Patience);
        }
        catch (TimeoutException timeout)
        {
            Assert.Fail($"{timeout.Message} Missing: {string.Join("; ", followed.Missing.Take(5))}; stored {followed.Stored}");
        }

        // The collector learnt each trace from the message (bulk deliveries: each entry's CloudEvent), not from anything in
        // process: its delivery spans have remote parents.
        var traces = publishes.Select(p => p.TraceId).ToHashSet();
        var deliveries = recorder.Spans.Where(s => s.OperationName == PipelineTracing.DeliverySpan && traces.Contains(s.TraceId)).ToList();
        Assert.All(deliveries, delivery =>
        {
            Assert.Equal("dapr", delivery.GetTagItem("messaging.system"));
            Assert.True(delivery.HasRemoteParent, $"delivery {delivery.SpanId} continues a context read from the CloudEvent");
            Assert.Equal(ActivityKind.Consumer, delivery.Kind);
        });
    }

    public void Dispose() => File.Delete(_csv);
}
