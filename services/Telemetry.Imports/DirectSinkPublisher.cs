using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;

namespace Telemetry.Imports;

/// <summary>Publishes by storing at once: a batch counts as published only once the collector stored it, so
/// the progress an import records never runs ahead of what is in the windows.</summary>
public sealed class DirectSinkPublisher(IBatchSink sink) : IBatchPublisher
{
    public Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken) => sink.IngestAsync(batch, cancellationToken);
}
