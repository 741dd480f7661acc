using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Polly;
using Telemetry.Collector;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;

namespace Telemetry.Embedded;

/// <summary>
/// The collector side of the embedded queue. One dispatcher takes batches off the queue and splits them by
/// GPU into <c>WORKERS</c> shards (a GPU always goes to the same shard); each shard's worker stores what has
/// piled up for it as one append. Two reasons, both measured (docs/performance.md): every GPU has exactly
/// one writer, so the window store's ETag guards never conflict inside this process (with 4 workers all
/// writing the same 247 GPUs, nearly every append used to conflict and be re-planned); and one append of
/// many queued batches pays the per-GPU cost (manifest read and write, tail segment rewrite) once for all
/// of them instead of once per 500-sample batch. A store that fails transiently (unavailable, busy, full, a lost
/// race) is waited for as long as it takes, so an outage loses nothing; an append that fails for any other reason
/// is tried a few times, then its batches are stored one by one and only those that still fail are quarantined
/// (<see cref="IQuarantine"/>), so one poison batch never stalls its shard and, through back-pressure, the pipeline.
/// Registered before the streamer, so it stops after it: by then the streamer has queued what it read, the
/// queue is closed, and this drains it before returning.
/// </summary>
public sealed partial class QueueConsumer(
    BatchQueue queue,
    IBatchSink sink,
    IOptions<CollectorOptions> options,
    FailureClassifier classifier,
    Backoff backoff,
    IQuarantine quarantine,
    ILogger<QueueConsumer> logger) : BackgroundService
{
    private readonly ResiliencePipeline _storeRetry = Retries.Delivery(classifier, Retries.PermanentAttempts, backoff, retry =>
    {
        TelemetryMetrics.StoreRetries.WithLabels(retry.Kind == FailureKind.Transient ? "transient" : "permanent").Inc();
        LogStoreFailed(logger, retry.Subject, retry.Attempt, retry.Kind, retry.Error.Message, retry.Delay.TotalMilliseconds);
    });

    /// <summary>Most samples one append gathers: bounds what one failed append has to redo.</summary>
    public const int MaxSamplesPerAppend = 50_000;

    /// <summary>An append of fewer samples waits a little for more (at most <see cref="LingerSteps"/> × 5 ms):
    /// under load a worker that keeps up would otherwise store a few samples per GPU per append, and the
    /// per-GPU cost of an append, not the samples, would then set the throughput.</summary>
    internal const int MinSamplesPerAppend = 8_000;
    private const int LingerSteps = 4;

    /// <summary>Parts of streamer batches a shard holds before the dispatcher waits. It bounds how much one
    /// append can gather (the linger cannot gather more than the shard holds), and the per-GPU cost of an append
    /// (manifest read and write, tail fold) is paid once per append: 8 parts of ~125 samples gave ~16 samples per
    /// GPU per append, 64 parts ~130 (3.5x the end-to-end throughput), 256 parts up to ~500 when the writers fall
    /// behind (docs/performance.md). Memory stays bounded: 256 parts x WORKERS shards, ~32,000 samples a shard.</summary>
    public const int ShardCapacity = 256;

    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await ReplayQuarantinedAsync();
        var shards = new Channel<QueuedBatch>[options.Value.Workers];
        for (var i = 0; i < shards.Length; i++)
        {
            // Small and bounded: a slow store makes the dispatcher wait, so the queue fills and the streamer waits.
            shards[i] = Channel.CreateBounded<QueuedBatch>(new BoundedChannelOptions(ShardCapacity)
            {
                SingleWriter = true,
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }
        var workers = new Task[shards.Length];
        for (var i = 0; i < workers.Length; i++) workers[i] = ConsumeAsync(shards[i].Reader);
        try
        {
            await DispatchAsync(shards);
        }
        finally
        {
            foreach (var shard in shards) shard.Writer.TryComplete();
            await Task.WhenAll(workers);
            _drained.TrySetResult();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Complete();
        await _drained.Task.WaitAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
    }

    private async Task DispatchAsync(Channel<QueuedBatch>[] shards)
    {
        await Task.Yield();
        var parts = new List<GpuSamples>[shards.Length];
        for (var i = 0; i < parts.Length; i++) parts[i] = [];
        // Not cancelled by shutdown: the loop ends when the queue is completed and empty.
        await foreach (var queued in queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            TelemetryMetrics.QueueDepth.Set(queue.Depth);
            if (shards.Length == 1)
            {
                await shards[0].Writer.WriteAsync(queued, CancellationToken.None);
                continue;
            }
            var batch = queued.Batch;
            foreach (var group in batch.Gpus) parts[ShardOf(group.Gpu.Uuid, shards.Length)].Add(group);
            for (var i = 0; i < shards.Length; i++)
            {
                if (parts[i].Count == 0) continue;
                await shards[i].Writer.WriteAsync(queued with { Batch = new TelemetryBatch($"{batch.BatchId}/{i}", parts[i]) }, CancellationToken.None);
                parts[i] = [];
            }
        }
    }

    /// <summary>Stable within the process, which is all a shard needs.</summary>
    internal static int ShardOf(string uuid, int shards) => (int)((uint)StringComparer.Ordinal.GetHashCode(uuid) % (uint)shards);

    private async Task ConsumeAsync(ChannelReader<QueuedBatch> shard)
    {
        await Task.Yield();
        while (await shard.WaitToReadAsync(CancellationToken.None))
        {
            for (var step = 0; step < LingerSteps && shard.Count * QueueItemSamples(shard) < MinSamplesPerAppend && !shard.Completion.IsCompleted; step++)
            {
                await Task.Delay(5);
            }
            var parts = Gather(shard);
            if (parts.Count == 0) continue;
            var batch = parts.Count == 1 ? parts[0].Batch : Combine(parts.ConvertAll(part => part.Batch));
            // The batches' traces continue here, around every attempt to store them.
            using var delivery = PipelineTracing.StartDelivery(parts.ConvertAll(part => part.Origin), "in-process", batch.BatchId, batch.SampleCount);
            if (await TryStoreAsync(batch) is not { } error) continue;
            if (parts.Count == 1)
            {
                await QuarantineAsync(batch, error);
                continue;
            }
            // One of the gathered batches is poison (or several): find which, store the rest. Repeating the
            // samples that did get stored is harmless, the window store recognises them.
            foreach (var part in parts)
            {
                if (await TryStoreAsync(part.Batch) is { } partError) await QuarantineAsync(part.Batch, partError);
            }
        }
    }

    /// <summary>Batches quarantined before this start are offered to the collector again, before anything new: an
    /// operator who fixed the cause restarts the host to replay them. Those that store are released; one that still
    /// fails stays where it is (and is not quarantined twice).</summary>
    private async Task ReplayQuarantinedAsync()
    {
        await Task.Yield();
        var kept = quarantine.List();
        var replayed = 0;
        foreach (var (id, batch) in kept)
        {
            if (await TryStoreAsync(batch) is { } error)
            {
                LogStillFailing(batch.BatchId, error.Message);
                continue;
            }
            quarantine.Release(id);
            replayed++;
        }
        if (kept.Count > 0) LogReplayed(replayed, kept.Count - replayed);
    }

    /// <summary>Stores through the retry pipeline; returns the failure that ended the retries, or null.</summary>
    private async Task<Exception?> TryStoreAsync(TelemetryBatch batch)
    {
        try
        {
            await _storeRetry.RunAsync(batch.BatchId, token => sink.IngestAsync(batch, token), CancellationToken.None);
            return null;
        }
        catch (Exception error)
        {
            return error;
        }
    }

    private async Task QuarantineAsync(TelemetryBatch batch, Exception error)
    {
        TelemetryMetrics.BatchesQuarantined.WithLabels("store").Inc();
        await quarantine.QuarantineAsync(batch, "store", error);
    }

    /// <summary>Samples of the first waiting item: an estimate of each item's size (they are all parts of
    /// streamer batches of the same size).</summary>
    private static int QueueItemSamples(ChannelReader<QueuedBatch> shard) => shard.TryPeek(out var item) ? Math.Max(1, item.Batch.SampleCount) : 1;

    /// <summary>Everything waiting in the shard, up to <see cref="MaxSamplesPerAppend"/> samples, to store as one
    /// append (kept apart, so that a poison batch among them can be told from the rest), each with its trace context.</summary>
    private static List<QueuedBatch> Gather(ChannelReader<QueuedBatch> shard)
    {
        var parts = new List<QueuedBatch>();
        var samples = 0;
        while (samples < MaxSamplesPerAppend && shard.TryRead(out var next))
        {
            parts.Add(next);
            samples += next.Batch.SampleCount;
        }
        return parts;
    }

    private static TelemetryBatch Combine(List<TelemetryBatch> parts)
    {
        var gpus = new List<GpuSamples>(parts.Sum(part => part.Gpus.Count));
        foreach (var part in parts) gpus.AddRange(part.Gpus);
        return new TelemetryBatch($"{parts[0].BatchId}+{parts.Count - 1}", gpus);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replayed {Replayed} quarantined batches; {Kept} still fail and stay in quarantine")]
    private partial void LogReplayed(int replayed, int kept);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Quarantined batch {BatchId} still fails ({Reason}); it stays in quarantine")]
    private partial void LogStillFailing(string batchId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing batch {BatchId} failed (attempt {Attempt}, {Kind}): {Reason}; retrying in {WaitMs:F0} ms")]
    private static partial void LogStoreFailed(ILogger logger, string? batchId, int attempt, FailureKind kind, string reason, double waitMs);
}
