using Telemetry.Core.Model;

namespace Telemetry.Core.Pipeline;

/// <summary>Collects samples into one batch, grouped by GPU so each GPU's identity travels once. The streamer adds
/// whole rows stamped with the time they were processed (its <paramref name="nextBatchId"/> is shared by all of its
/// workers, so batch ids never repeat); an import adds samples it stamped itself (its ids are the same every time a
/// chunk is replayed).</summary>
public sealed class BatchBuilder(Func<string> nextBatchId)
{
    private readonly Dictionary<string, (GpuIdentity Gpu, List<MetricSample> Samples)> _byGpu = new(StringComparer.Ordinal);

    public int SampleCount { get; private set; }

    /// <summary>Rows added with <see cref="Add(TelemetryRow, DateTime)"/> since the last <see cref="Take"/>.</summary>
    public int RowCount { get; private set; }

    /// <summary>When the first row of this batch was added.</summary>
    public DateTime StartedAt { get; private set; }

    public void Add(TelemetryRow row, DateTime processedAt)
    {
        if (RowCount == 0) StartedAt = DateTime.UtcNow;
        if (!_byGpu.TryGetValue(row.Gpu.Uuid, out var entry))
        {
            entry = (row.Gpu, new List<MetricSample>(row.Metrics.Count));
            _byGpu[row.Gpu.Uuid] = entry;
        }
        foreach (var metric in row.Metrics)
        {
            entry.Samples.Add(new MetricSample(processedAt, metric.Name, metric.Value, row.SourceTimestamp));
        }
        SampleCount += row.Metrics.Count;
        RowCount++;
    }

    /// <summary>One sample of <paramref name="gpu"/>, stamped by the caller.</summary>
    public void Add(GpuIdentity gpu, MetricSample sample)
    {
        if (!_byGpu.TryGetValue(gpu.Uuid, out var entry)) _byGpu[gpu.Uuid] = entry = (gpu, []);
        entry.Samples.Add(sample);
        SampleCount++;
    }

    /// <summary>Returns the batch built so far and starts an empty one.</summary>
    public TelemetryBatch Take()
    {
        var gpus = new List<GpuSamples>(_byGpu.Count);
        foreach (var (gpu, samples) in _byGpu.Values) gpus.Add(new GpuSamples(gpu, samples));
        _byGpu.Clear();
        SampleCount = 0;
        RowCount = 0;
        return new TelemetryBatch(nextBatchId(), gpus);
    }
}
