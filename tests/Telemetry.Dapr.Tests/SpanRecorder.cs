using System.Collections.Concurrent;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Telemetry.Hosting.Observability;

namespace Telemetry.Tests.Tracing;

/// <summary>
/// An OpenTelemetry tracer provider, as the services register one, that keeps every span of the pipeline's source
/// (and every ASP.NET Core server span) as it ends. The provider listens process-wide, so it also sees the spans of hosts other tests run at the same
/// time: a test picks its own by what it alone streams (its CSV file's name). Spans are kept by a processor rather
/// than an exporter's list, which is not safe to read while other hosts keep adding to it.
/// (Shared by Telemetry.Dapr.Tests and Telemetry.Service.Tests, which links this file.)
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ConcurrentQueue<Activity> _ended = new();
    private readonly TracerProvider _provider;

    public SpanRecorder() =>
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(PipelineTracing.SourceName)
            // Server spans too, as the services record them: a span under a request (a query) is sampled with its parent.
            .AddAspNetCoreInstrumentation()
            .AddProcessor(new Keeper(_ended))
            .Build();

    public IReadOnlyList<Activity> Spans => [.. _ended];

    /// <summary>The publish spans of batches read from <paramref name="csvFileName"/>.</summary>
    public List<Activity> PublishesOf(string csvFileName) =>
        [.. Spans.Where(span => span.OperationName == PipelineTracing.PublishSpan && (string?)span.GetTagItem("telemetry.csv.file") == csvFileName)];

    /// <summary>
    /// Checks that every publish span's trace continues into a delivery span and reaches a window append: the append is a
    /// child of that delivery, or of the delivery it links to (batches stored together share one append). Returns what
    /// is missing (empty when every trace is whole) and the samples the appends of these traces stored.
    /// </summary>
    public (List<string> Missing, long Stored) Follow(IReadOnlyList<Activity> publishes)
    {
        var spans = Spans;
        var traces = publishes.Select(p => p.TraceId).ToHashSet();
        var deliveries = spans.Where(s => s.OperationName == PipelineTracing.DeliverySpan && traces.Contains(s.TraceId)).ToList();
        var appends = spans.Where(s => s.OperationName == PipelineTracing.AppendSpan && traces.Contains(s.TraceId)).ToList();
        var appended = appends.Select(a => a.ParentSpanId).ToHashSet();
        var missing = new List<string>();
        foreach (var publish in publishes)
        {
            var delivery = deliveries.FirstOrDefault(d => d.TraceId == publish.TraceId);
            if (delivery is null)
            {
                missing.Add($"batch {publish.GetTagItem("messaging.message.id")}: no delivery span in trace {publish.TraceId}");
                continue;
            }
            var reachesAppend = appended.Contains(delivery.SpanId) || delivery.Links.Any(link => appended.Contains(link.Context.SpanId));
            if (!reachesAppend) missing.Add($"batch {publish.GetTagItem("messaging.message.id")}: delivery {delivery.SpanId} reaches no append");
        }
        return (missing, appends.Sum(a => Convert.ToInt64(a.GetTagItem("telemetry.append.stored") ?? 0L, System.Globalization.CultureInfo.InvariantCulture)));
    }

    public void Dispose() => _provider.Dispose();

    private sealed class Keeper(ConcurrentQueue<Activity> ended) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => ended.Enqueue(data);
    }
}
