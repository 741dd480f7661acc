using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Hosting;

namespace Telemetry.Embedded;

/// <summary>The embedded stand-in for pub/sub: a bounded channel. When the collector falls behind, the
/// streamer waits at <see cref="PublishAsync"/> instead of memory growing. Each batch travels with the trace
/// context it was published in, as a pub/sub message carries its <c>traceparent</c>, so the collector's spans
/// continue the streamer's trace.</summary>
public sealed class BatchQueue(IOptions<EmbeddedOptions> options) : IBatchPublisher
{
    private readonly Channel<QueuedBatch> _channel = Channel.CreateBounded<QueuedBatch>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });

    public ChannelReader<QueuedBatch> Reader => _channel.Reader;

    public int Depth => _channel.Reader.Count;

    public async Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        await _channel.Writer.WriteAsync(new QueuedBatch(batch, Activity.Current?.Context ?? default), cancellationToken);
        TelemetryMetrics.QueueDepth.Set(_channel.Reader.Count);
    }

    /// <summary>No more batches will come; consumers finish what is queued and stop.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
