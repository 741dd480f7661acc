using Prometheus;

namespace Telemetry.Hosting.Status;

/// <summary>
/// This process as a pipeline instance: its identity and a heartbeat made from its Prometheus counters.
/// The rate is the counter's change since the previous heartbeat, so every instance reports the same thing
/// a Prometheus <c>rate()</c> over one heartbeat interval would.
/// </summary>
public sealed class LocalInstance(PipelineRole role, TimeProvider clock)
{
    private readonly Lock _lock = new();
    private (DateTime Time, long Total, double Rate)? _previous;

    public PipelineRole Role { get; } = role;
    public string Service { get; } = role.ToString().ToLowerInvariant();

    /// <summary>Unique per process: the machine (container, pod) name and the process id.</summary>
    public string Instance { get; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    public DateTime StartedAt { get; } = clock.GetUtcNow().UtcDateTime;

    /// <summary>A heartbeat as of now. <paramref name="advance"/>: this heartbeat starts the next rate interval
    /// (the periodic heartbeat); a status request only looks.</summary>
    public InstanceHeartbeat Snapshot(bool storeHealthy, bool advance)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var total = (long)SamplesCounter(Role).Value;
        double rate;
        lock (_lock)
        {
            var start = _previous ?? (StartedAt, 0L, 0.0);
            var seconds = (now - start.Time).TotalSeconds;
            // Under a second of counting says little: the rate of the last full interval stands.
            rate = seconds >= 1 || _previous is null ? Math.Max(0, (total - start.Total) / Math.Max(seconds, 0.001)) : start.Rate;
            if (advance) _previous = (now, total, rate);
        }
        return new InstanceHeartbeat(Service, Instance, StartedAt, now, Math.Round(rate, 1), total,
            Sum(TelemetryMetrics.RowsRejected), Sum(TelemetryMetrics.SamplesRejected), Sum(TelemetryMetrics.MessagesDropped), storeHealthy);
    }

    private static Counter SamplesCounter(PipelineRole role) => role switch
    {
        PipelineRole.Streamer or PipelineRole.Gateway => TelemetryMetrics.SamplesPublished,
        _ => TelemetryMetrics.SamplesStored,
    };

    /// <summary>A labelled counter's total over all its label values.</summary>
    private static long Sum(Counter counter)
    {
        double total = 0;
        foreach (var labels in counter.GetAllLabelValues()) total += counter.WithLabels(labels).Value;
        return (long)total;
    }
}
