using Dapr.Client;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;

namespace Telemetry.Dapr;

/// <summary>
/// Publishes each batch as ONE pub/sub message. A batch holds up to <c>BATCH_SIZE</c> samples, so at full
/// speed one sidecar call carries hundreds of samples; bulk publish would also cut calls, but each entry
/// would still be its own broker message and its own delivery, while the collector wants many samples per
/// delivery. The first publish waits until the sidecar has answered its health check.
/// </summary>
public sealed class DaprBatchPublisher(DaprClient client, SidecarGate sidecar, IOptions<DaprOptions> options) : IBatchPublisher
{
    private readonly DaprOptions _options = options.Value;

    public async Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        await sidecar.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        await client.PublishByteEventAsync(_options.PubSubName, _options.Topic, TelemetryJson.Serialize(batch),
            "application/json", cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
