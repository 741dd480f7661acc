using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;

namespace Telemetry.Imports;

/// <summary>Where imports publish: by default the host's <see cref="IBatchPublisher"/> (Dapr pub/sub in the
/// gateway); the embedded host hands batches straight to its collector instead (see README notes).</summary>
public sealed class ImportPublisher(IBatchPublisher inner)
{
    public Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken) => inner.PublishAsync(batch, cancellationToken);
}
