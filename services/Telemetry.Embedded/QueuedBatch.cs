using System.Diagnostics;
using Telemetry.Core.Model;

namespace Telemetry.Embedded;

/// <summary>A batch on its way through the embedded queue, with the trace context it was published in
/// (<c>default</c> when tracing is off).</summary>
public readonly record struct QueuedBatch(TelemetryBatch Batch, ActivityContext Origin);
