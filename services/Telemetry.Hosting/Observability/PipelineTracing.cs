using System.Diagnostics;
using Telemetry.Core.Model;
using Telemetry.Core.Windows;

namespace Telemetry.Hosting.Observability;

/// <summary>
/// The pipeline's spans, one definition each. A batch's trace starts when the streamer publishes it
/// (<see cref="StartPublish"/>, a root span), goes through the transport — the sidecars in Dapr mode, which carry
/// the W3C <c>traceparent</c> in the CloudEvent; the in-process queue in embedded mode, which carries the context
/// beside the batch — and continues in the collector (<see cref="StartDelivery"/>, one span per batch that arrived,
/// parented to its publish) down to the window store (<see cref="StartAppend"/>). Gateway reads get
/// <see cref="StartQuery"/>. With no listener (no exporter configured) every Start method returns null after one
/// check, so tracing costs next to nothing when it is off.
/// </summary>
public static class PipelineTracing
{
    public const string SourceName = "Telemetry.Pipeline";

    public const string PublishSpan = "telemetry.publish";
    public const string DeliverySpan = "telemetry.deliver";
    public const string AppendSpan = "telemetry.append";
    public const string QuerySpan = "telemetry.query";

    private static readonly ActivitySource Source = new(SourceName, typeof(PipelineTracing).Assembly.GetName().Version?.ToString());

    /// <summary>A new trace for one batch leaving the streamer; the publish call (and any retry of it) runs
    /// inside it, so the transport sees its context as the current one.</summary>
    public static Activity? StartPublish(TelemetryBatch batch, int rows, string csvFile)
    {
        if (!Source.HasListeners()) return null;
        // A root whatever flows in: each batch is its own trace, not part of whatever started the worker.
        var outer = Activity.Current;
        Activity.Current = null;
        var span = Source.StartActivity(PublishSpan, ActivityKind.Producer);
        if (span is null)
        {
            Activity.Current = outer;
            return null;
        }
        span.SetTag("messaging.operation.type", "send");
        span.SetTag("messaging.message.id", batch.BatchId);
        span.SetTag("telemetry.batch.rows", rows);
        span.SetTag("telemetry.batch.samples", batch.SampleCount);
        span.SetTag("telemetry.csv.file", Path.GetFileName(csvFile));
        return span;
    }

    /// <summary>Spans for batches a collector received together and stores in one append: one per distinct
    /// origin (the publish context each batch arrived with), so every batch's trace reaches the store. The first
    /// becomes the current span, under which the append runs; the others link to it.</summary>
    public static DeliverySpans StartDelivery(IEnumerable<ActivityContext> origins, string transport, string batchId, int samples)
    {
        if (!Source.HasListeners()) return default;
        var outer = Activity.Current;
        Activity? first = null;
        List<Activity>? others = null;
        foreach (var origin in origins.Distinct())
        {
            ActivityLink[]? links = first is null ? null : [new ActivityLink(first.Context)];
            var span = Source.StartActivity(DeliverySpan, ActivityKind.Consumer, origin, links: links);
            if (span is null) continue;
            span.SetTag("messaging.operation.type", "process");
            span.SetTag("messaging.system", transport);
            span.SetTag("telemetry.delivery.id", batchId);
            span.SetTag("telemetry.delivery.samples", samples);
            if (first is null) first = span;
            else (others ??= []).Add(span);
        }
        if (first is null)
        {
            Activity.Current = outer;
            return default;
        }
        first.SetTag("telemetry.delivery.batches", 1 + (others?.Count ?? 0));
        Activity.Current = first;
        return new DeliverySpans(first, others, outer);
    }

    /// <summary>The window store append of a delivery; a child of the current delivery span.</summary>
    public static Activity? StartAppend(int gpus, int samples)
    {
        if (!Source.HasListeners()) return null;
        var span = Source.StartActivity(AppendSpan);
        span?.SetTag("telemetry.append.gpus", gpus);
        span?.SetTag("telemetry.append.samples", samples);
        return span;
    }

    /// <summary>What the append did, on its span.</summary>
    public static void Record(this Activity? span, AppendResult result)
    {
        if (span is null) return;
        span.SetTag("telemetry.append.stored", result.Stored);
        span.SetTag("telemetry.append.duplicates", result.Duplicates);
        span.SetTag("telemetry.append.evicted", result.Evicted);
        span.SetTag("telemetry.append.conflicts", result.Conflicts);
    }

    /// <summary>A telemetry read of one GPU's window; a child of the request's server span.</summary>
    public static Activity? StartQuery(string gpu)
    {
        if (!Source.HasListeners()) return null;
        var span = Source.StartActivity(QuerySpan);
        span?.SetTag("telemetry.gpu.uuid", gpu);
        return span;
    }

    /// <summary>Marks <paramref name="span"/> failed with <paramref name="error"/>.</summary>
    public static void Fail(this Activity? span, Exception error)
    {
        if (span is null) return;
        span.SetStatus(ActivityStatusCode.Error, error.GetBaseException().Message);
        span.AddException(error);
    }

    /// <summary>The context a W3C <c>traceparent</c> (and <c>tracestate</c>) names, or null when absent or malformed.</summary>
    public static ActivityContext? ParseTraceParent(string? traceParent, string? traceState) =>
        !string.IsNullOrEmpty(traceParent) && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context)
            ? context
            : null;

    /// <summary>The spans of one delivery; ending it ends them all.</summary>
    public readonly struct DeliverySpans(Activity? first, List<Activity>? others, Activity? outer) : IDisposable
    {
        /// <summary>Every span of the delivery failed with <paramref name="error"/> (the batches will come again).</summary>
        public void Fail(Exception error)
        {
            if (first is null) return;
            first.Fail(error);
            foreach (var span in others ?? []) span.Fail(error);
        }

        public void Dispose()
        {
            if (first is null) return;
            foreach (var span in others ?? []) span.Dispose();
            first.Dispose();
            Activity.Current = outer;
        }
    }
}
