namespace Telemetry.Core.Model;

/// <summary>What identifies a GPU and describes it. <see cref="Uuid"/> is the key: <see cref="GpuIndex"/>
/// is only the position inside a host and repeats across hosts.</summary>
public sealed record GpuIdentity(
    string Uuid,
    string Hostname,
    int GpuIndex,
    string Device,
    string Model,
    string? PciBusId = null,
    string? DriverVersion = null);

/// <summary>One metric value of one GPU at one instant. <see cref="Timestamp"/> is the processing time the
/// streamer stamped (or, for a replayed import, the file's own time); the file's time stays in
/// <see cref="SourceTimestamp"/>. A sample is identified within its GPU by (Timestamp, MetricName).</summary>
public readonly record struct MetricSample(DateTime Timestamp, string MetricName, double Value, DateTime? SourceTimestamp);

/// <summary>The samples of one GPU inside a batch.</summary>
public sealed record GpuSamples(GpuIdentity Gpu, IReadOnlyList<MetricSample> Samples);

/// <summary>The unit that travels from streamer to collector: one pub/sub message or one queue item.
/// Samples are grouped by GPU so a message carries each GPU's identity once.</summary>
public sealed record TelemetryBatch(string BatchId, IReadOnlyList<GpuSamples> Gpus)
{
    public int SampleCount
    {
        get
        {
            var count = 0;
            foreach (var gpu in Gpus) count += gpu.Samples.Count;
            return count;
        }
    }
}
