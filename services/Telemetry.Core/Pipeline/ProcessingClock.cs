namespace Telemetry.Core.Pipeline;

/// <summary>Stamps rows with the time they are processed: UTC, 100 ns resolution, and strictly increasing
/// within the process, so two rows read in the same tick still get distinct timestamps and never collapse
/// into one sample.</summary>
public sealed class ProcessingClock(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _last;

    public DateTime Next()
    {
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var now = _time.GetUtcNow().UtcTicks;
            var next = now > last ? now : last + 1;
            if (Interlocked.CompareExchange(ref _last, next, last) == last) return new DateTime(next, DateTimeKind.Utc);
        }
    }
}
