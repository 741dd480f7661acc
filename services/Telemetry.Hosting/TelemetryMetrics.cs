using Prometheus;

namespace Telemetry.Hosting;

/// <summary>The pipeline's Prometheus metrics, one definition each, shared by every host.</summary>
public static class TelemetryMetrics
{
    public static readonly Counter RowsRead = Metrics.CreateCounter(
        "telemetry_rows_read_total", "CSV rows read by the streamer (good and bad).");
    public static readonly Counter RowsRejected = Metrics.CreateCounter(
        "telemetry_rows_rejected_total", "CSV rows skipped as malformed or without any value, by reason.", "reason");
    public static readonly Counter BatchesPublished = Metrics.CreateCounter(
        "telemetry_batches_published_total", "Batches handed to the publisher.");
    public static readonly Counter SamplesPublished = Metrics.CreateCounter(
        "telemetry_samples_published_total", "Samples handed to the publisher.");
    public static readonly Counter PublishRetries = Metrics.CreateCounter(
        "telemetry_publish_retries_total", "Publish attempts that failed and were retried, by kind of failure (transient, permanent).", "kind");
    public static readonly Counter StoreRetries = Metrics.CreateCounter(
        "telemetry_store_retries_total", "Appends of queued batches (embedded) that failed and were retried, by kind of failure (transient, permanent).", "kind");
    public static readonly Counter BatchesQuarantined = Metrics.CreateCounter(
        "telemetry_batches_quarantined_total", "Batches that failed for a reason retrying cannot fix and were kept in the quarantine directory, by stage (publish, store).", "stage");
    public static readonly Counter SamplesStored = Metrics.CreateCounter(
        "telemetry_samples_stored_total", "Samples added to GPU windows.");
    public static readonly Counter SamplesRejected = Metrics.CreateCounter(
        "telemetry_samples_rejected_total", "Samples the collector refused as invalid, by reason.", "reason");
    public static readonly Counter DuplicatesDropped = Metrics.CreateCounter(
        "telemetry_duplicates_dropped_total", "Samples already stored (repeated deliveries), not stored again.");
    public static readonly Counter SamplesEvicted = Metrics.CreateCounter(
        "telemetry_samples_evicted_total", "Samples dropped from windows to stay within MAX_ENTRIES.");
    public static readonly Counter WriteConflicts = Metrics.CreateCounter(
        "telemetry_write_conflicts_total", "Guarded window writes that lost a race and were retried.");
    public static readonly Counter MessagesDropped = Metrics.CreateCounter(
        "telemetry_messages_dropped_total", "Messages that can never be processed, sent to the dead-letter topic, by reason.", "reason");
    public static readonly Counter DeadLetterMessages = Metrics.CreateCounter(
        "telemetry_dead_letter_messages_total",
        "Messages that reached the dead-letter topic (Dapr mode), by what the collector then did: success (stored now), retry, drop.", "outcome");
    public static readonly Gauge QueueDepth = Metrics.CreateGauge(
        "telemetry_queue_depth", "Batches waiting between streamer and collector (embedded mode).");
    public static readonly Histogram WindowSize = Metrics.CreateHistogram(
        "telemetry_window_samples", "Samples retained in a GPU's window, observed when it is written.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(16, 4, 8) });
}

/// <summary>Feeds <see cref="TelemetryMetrics.WindowSize"/> from the window writer.</summary>
public sealed class PrometheusWindowObserver : Telemetry.Core.Windows.IWindowObserver
{
    public void WindowWritten(int retainedSamples) => TelemetryMetrics.WindowSize.Observe(retainedSamples);
}
