using System.ComponentModel.DataAnnotations;

namespace Telemetry.Core.Windows;

/// <summary>How much each GPU's window keeps and how it is cut into stored values.</summary>
public sealed class WindowOptions
{
    /// <summary>The window size when nothing else is set (deployment files repeat it as <c>MAX_ENTRIES</c>).</summary>
    public const int DefaultMaxEntries = 10_000;

    /// <summary><c>MAX_ENTRIES</c>: samples kept per GPU; the oldest go first.</summary>
    [Range(1, 1_000_000)]
    public int MaxEntries { get; set; } = DefaultMaxEntries;

    /// <summary>Samples per stored segment. Bounds every value (about 30 bytes a sample, so ~60 kB) whatever
    /// <see cref="MaxEntries"/> is, and bounds what one append rewrites.</summary>
    [Range(16, 20_000)]
    public int SegmentCapacity { get; set; } = 2048;

    /// <summary>Guarded writes retried this many times before the batch is reported as failed.</summary>
    [Range(1, 1000)]
    public int MaxWriteAttempts { get; set; } = 64;

    /// <summary>Most bytes of values one store write carries; larger appends are committed in several writes.
    /// Far below Dapr's default 4 MB gRPC message limit.</summary>
    [Range(64 * 1024, 3 * 1024 * 1024)]
    public int MaxWriteBytes { get; set; } = 1024 * 1024;
}
