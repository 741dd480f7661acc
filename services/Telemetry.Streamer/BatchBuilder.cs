using Telemetry.Core.Model;

namespace Telemetry.Streamer;

/// <summary>Collects stamped rows into one batch, grouped by GPU so each GPU's identity travels once.
/// <paramref name="nextBatchId"/> is shared by all of a streamer's workers, so batch ids never repeat.</summary>
internal sealed class BatchBuilder(Func<string> nextBatchId)
{
    private readonly Dictionary<string, (GpuIdentity Gpu, List<MetricSample> Samples)> _byGpu = new(StringComparer.Ordinal);

    public int SampleCount { get; private set; }
    public int RowCount { get; private set; }
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
