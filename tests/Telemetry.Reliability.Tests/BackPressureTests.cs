using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Telemetry.Collector;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Embedded;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// A collector that stops taking batches (its store hangs) must not make the embedded host buffer without
/// bound: the queue and the consumer shards fill, the streamer stops reading, and memory stays flat; once the
/// collector goes on, so does the streamer.
/// <para>Every step waits on a state of the pipeline, never on a guessed time. The timed parts only observe: "no
/// new row for half a second" decides when to look, and a slow machine can only make it look early, when the
/// bound on rows in flight holds all the same; the memory window after it compares two full collections.</para>
/// </summary>
[Collection(MemorySensitive.Name)]
public sealed class BackPressureTests(ITestOutputHelper output)
{
    private const int Capacity = 4;
    private const int BatchSize = 10;
    private const int Workers = 2;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(0.5);
    private static readonly TimeSpan Observation = TimeSpan.FromSeconds(1);

    [Fact]
    [Trait("Category", "Fault")]
    public async Task A_stalled_collector_blocks_the_streamer_memory_stays_flat_and_streaming_resumes()
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        CountingSink? sink = null;
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv, // one sample per row
            ["LOOP"] = "true",
            ["QUEUE_CAPACITY"] = Capacity.ToString(),
            ["BATCH_SIZE"] = BatchSize.ToString(),
            ["WORKERS"] = Workers.ToString(), // streamer workers and collector consumers
            ["MAX_ENTRIES"] = "1000",
        }, CountingSink.Install(TimeSpan.Zero, s => { s.Stall(); sink = s; }));
        var queue = factory.Services.GetRequiredService<BatchQueue>();
        var status = factory.Services.GetRequiredService<StreamerStatus>();
        Assert.Equal(Workers, factory.Services.GetRequiredService<IOptions<CollectorOptions>>().Value.Workers);

        // 1. The pipeline fills: every consumer holds an append inside the stalled sink and the queue is full.
        await Eventually.UntilAsync(() => sink is { Held: Workers } && queue.Depth == Capacity,
            $"both consumers held in the stalled sink and the queue full ({Capacity} batches)",
            state: () => $"{sink?.Held} held, queue depth {queue.Depth}, {status.RowsRead} rows read");

        // 2. The streamer stops reading. A streamer that ignored back-pressure would never go quiet and fail here.
        long peakAhead = 0;
        void Track() => peakAhead = Math.Max(peakAhead, status.RowsRead - sink!.SamplesEntered);
        var lastRead = -1L;
        var quiet = Stopwatch.StartNew();
        await Eventually.UntilAsync(() =>
        {
            Track();
            if (status.RowsRead != lastRead)
            {
                lastRead = status.RowsRead;
                quiet.Restart();
            }
            return quiet.Elapsed >= Quiet;
        }, $"the streamer to stop reading while the collector takes nothing (no new row for {Quiet.TotalSeconds}s)",
            state: () => $"{status.RowsRead} rows read, {sink!.SamplesEntered} samples in the sink");

        // Blocked: memory stays where it is, and what was read but not stored stays within the buffers.
        var readAtFull = status.RowsRead;
        var retainedFull = GC.GetTotalMemory(forceFullCollection: true);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Observation)
        {
            Track();
            await Task.Delay(10); // sampling interval of the observation, not a wait for anything
        }
        var observed = watch.Elapsed;
        var readWhileStalled = status.RowsRead - readAtFull;
        var retainedAfter = GC.GetTotalMemory(forceFullCollection: true);

        // 3. The collector goes on; so must the streamer, well past anything its buffers could hold.
        var readAtResume = status.RowsRead;
        sink!.Resume();
        var resumed = Stopwatch.StartNew();
        await Eventually.UntilAsync(() => status.RowsRead > readAtResume + 4 * AheadBound,
            $"the streamer to read {4 * AheadBound} more rows once the collector takes batches again",
            state: () => $"{status.RowsRead - readAtResume} rows read since, {sink.Stored} samples stored");

        var mb = 1048576.0;
        output.WriteLine($"FIGURE back-pressure: collector stalled, QUEUE_CAPACITY={Capacity}, BATCH_SIZE={BatchSize}, WORKERS={Workers}: " +
                         $"the streamer stopped after {readAtFull} rows and read {readWhileStalled} more over the next {observed.TotalSeconds:F1}s; at most {peakAhead} rows read but not yet in the sink (bound {AheadBound}); " +
                         $"retained heap {(retainedFull - baseline) / mb:F1} MB above the baseline when full, {(retainedAfter - retainedFull) / mb:F2} MB change " +
                         $"over that time; after resuming {4 * AheadBound}+ rows read in {resumed.Elapsed.TotalMilliseconds:F0} ms");

        Assert.True(peakAhead <= AheadBound,
            $"{peakAhead} rows read but not in the sink, more than the pipeline's buffers hold ({AheadBound})");
        Assert.True(retainedAfter - retainedFull < 8 * 1048576, $"the retained heap grew {(retainedAfter - retainedFull) / mb:F1} MB while stalled");
        Assert.True(retainedFull - baseline < 64 * 1048576, $"the retained heap is {(retainedFull - baseline) / mb:F1} MB above the baseline");
    }

    /// <summary>Rows (one sample each) that fit between the CSV reader and the sink when nothing leaves the sink.
    /// Streamer: the channel of row runs (2 per worker), the run the reader is filling, and per worker one run in
    /// hand and the batch being published. Then the queue, the batch the dispatcher holds, and every consumer's shard
    /// (parts of batches, each no bigger than a batch). What a consumer gathered has entered the sink.</summary>
    private static long AheadBound =>
        (2L * Workers + 1) * StreamerWorker.RowsPerHandOff + Workers * (StreamerWorker.RowsPerHandOff + BatchSize)
        + (Capacity + 1L) * BatchSize
        + (long)Workers * QueueConsumer.ShardCapacity * BatchSize;
}

/// <summary>Tests that measure the whole process's memory run alone, not beside other tests' allocations.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemorySensitive
{
    public const string Name = "Memory-sensitive";
}
