using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Hosting;

namespace Telemetry.Standalone;

/// <summary>The embedded stand-in for pub/sub: a bounded channel. When the collector falls behind, the
/// streamer waits at <see cref="PublishAsync"/> instead of memory growing.</summary>
public sealed class BatchQueue(IOptions<EmbeddedOptions> options) : IBatchPublisher
{
    private readonly Channel<TelemetryBatch> _channel = Channel.CreateBounded<TelemetryBatch>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });

    public ChannelReader<TelemetryBatch> Reader => _channel.Reader;

    public int Depth => _channel.Reader.Count;

    public async Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        await _channel.Writer.WriteAsync(batch, cancellationToken);
        TelemetryMetrics.QueueDepth.Set(_channel.Reader.Count);
    }

    /// <summary>No more batches will come; consumers finish what is queued and stop.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
