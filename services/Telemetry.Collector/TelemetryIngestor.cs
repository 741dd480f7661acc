using System.Runtime.InteropServices;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Windows;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;

namespace Telemetry.Collector;

/// <summary>The collector's one job, whatever delivers the batches: drop invalid samples (counted by
/// reason), then append the rest to the GPU windows.</summary>
public sealed partial class TelemetryIngestor(WindowWriter writer, TimeProvider time, ILogger<TelemetryIngestor> logger) : IBatchSink
{
    public async Task<AppendResult> IngestAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var valid = new List<GpuSamples>(batch.Gpus.Count);
        var rejected = 0;
        foreach (var group in batch.Gpus)
        {
            if (SampleValidator.CheckGpu(group.Gpu) is { } gpuProblem)
            {
                Reject(gpuProblem, group.Samples.Count);
                rejected += group.Samples.Count;
                continue;
            }
            List<MetricSample>? kept = null;
            var samples = AsSpan(group.Samples);
            for (var i = 0; i < samples.Length; i++)
            {
                if (SampleValidator.CheckSample(samples[i], now) is { } problem)
                {
                    kept ??= [.. samples[..i]];
                    Reject(problem, 1);
                    rejected++;
                }
                else
                {
                    kept?.Add(samples[i]);
                }
            }
            valid.Add(kept is null ? group : group with { Samples = kept });
        }
        if (rejected > 0) LogRejected(batch.BatchId, rejected);

        using var span = PipelineTracing.StartAppend(valid.Count, batch.SampleCount - rejected);
        AppendResult result;
        try
        {
            result = await writer.AppendAsync(valid, cancellationToken);
        }
        catch (Exception error)
        {
            span.Fail(error);
            throw;
        }
        span.Record(result);
        TelemetryMetrics.SamplesStored.Inc(result.Stored);
        TelemetryMetrics.DuplicatesDropped.Inc(result.Duplicates);
        TelemetryMetrics.SamplesEvicted.Inc(result.Evicted);
        TelemetryMetrics.WriteConflicts.Inc(result.Conflicts);
        return result;
    }

    /// <summary>The samples without an interface call per sample (perf: indexing through IReadOnlyList was ~6% of the
    /// embedded pipeline's CPU once dynamic PGO, which devirtualised it, was turned off).</summary>
    private static ReadOnlySpan<MetricSample> AsSpan(IReadOnlyList<MetricSample> samples) => samples switch
    {
        List<MetricSample> list => CollectionsMarshal.AsSpan(list),
        MetricSample[] array => array,
        _ => samples.ToArray(),
    };

    private static void Reject(string reason, int count) => TelemetryMetrics.SamplesRejected.WithLabels(reason).Inc(count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId}: {Count} invalid samples not stored (see telemetry_samples_rejected_total)")]
    private partial void LogRejected(string batchId, int count);
}
