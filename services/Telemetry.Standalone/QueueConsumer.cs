using Microsoft.Extensions.Options;
using Telemetry.Collector;
using Telemetry.Core.Pipeline;
using Telemetry.Hosting;

namespace Telemetry.Standalone;

/// <summary>
/// The collector side of the embedded queue: <c>WORKERS</c> loops take batches and store them. A batch that
/// fails to store is retried, not dropped. Registered before the streamer, so it stops after it: by then the
/// streamer has queued what it read, the queue is closed, and this drains it before returning.
/// </summary>
public sealed partial class QueueConsumer(
    BatchQueue queue,
    IBatchSink sink,
    IOptions<CollectorOptions> options,
    ILogger<QueueConsumer> logger) : BackgroundService
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var workers = new Task[options.Value.Workers];
        for (var i = 0; i < workers.Length; i++) workers[i] = ConsumeAsync();
        await Task.WhenAll(workers);
        _drained.TrySetResult();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Complete();
        await _drained.Task.WaitAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
    }

    private async Task ConsumeAsync()
    {
        await Task.Yield();
        // Not cancelled by shutdown: the loop ends when the queue is completed and empty.
        await foreach (var batch in queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            TelemetryMetrics.QueueDepth.Set(queue.Depth);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await sink.IngestAsync(batch, CancellationToken.None);
                    break;
                }
                catch (Exception error)
                {
                    LogStoreFailed(batch.BatchId, attempt, error.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 * Math.Pow(2, Math.Min(attempt, 7)))));
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing batch {BatchId} failed (attempt {Attempt}): {Reason}; retrying")]
    private partial void LogStoreFailed(string batchId, int attempt, string reason);
}
