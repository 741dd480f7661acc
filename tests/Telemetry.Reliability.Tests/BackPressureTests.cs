using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Standalone;
using Telemetry.Streamer;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// A collector slowed to a fraction of what the streamer can read (RATE=0) must not make the embedded host
/// buffer without bound: the queue holds at most QUEUE_CAPACITY batches, the streamer waits, and memory
/// stays flat while it does.
/// </summary>
[Collection(MemorySensitive.Name)]
public sealed class BackPressureTests(ITestOutputHelper output)
{
    private const int Capacity = 4;
    private const int BatchSize = 100;
    private static readonly TimeSpan SinkDelay = TimeSpan.FromMilliseconds(100);

    [Fact]
    [Trait("Category", "Fault")]
    public async Task Slow_collector_blocks_the_streamer_and_memory_stays_bounded()
    {
        CountingSink? sink = null;
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv,
            ["LOOP"] = "true",
            ["QUEUE_CAPACITY"] = Capacity.ToString(),
            ["BATCH_SIZE"] = BatchSize.ToString(),
            ["MAX_ENTRIES"] = "1000",
        }, CountingSink.Install(SinkDelay, s => sink = s));
        var queue = factory.Services.GetRequiredService<BatchQueue>();
        var status = factory.Services.GetRequiredService<StreamerStatus>();
        Assert.NotNull(factory.Services.GetRequiredService<Telemetry.Core.Pipeline.IBatchSink>());
        var consumers = factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Telemetry.Collector.CollectorOptions>>().Value.Workers;

        await Task.Delay(1000); // warm up: the queue fills and the streamer starts waiting
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var process = Process.GetCurrentProcess();
        long peakManaged = 0, peakWorkingSet = 0;
        int peakDepth = 0;
        long peakOutstanding = 0;
        var samples = 0;
        var watch = Stopwatch.StartNew();
        var readAtStart = status.RowsRead;
        var enteredAtStart = sink!.SamplesEntered;
        while (watch.Elapsed < TimeSpan.FromSeconds(4))
        {
            peakDepth = Math.Max(peakDepth, queue.Depth);
            peakOutstanding = Math.Max(peakOutstanding, status.SamplesPublished - sink!.SamplesEntered);
            peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
            process.Refresh();
            peakWorkingSet = Math.Max(peakWorkingSet, process.WorkingSet64);
            samples++;
            await Task.Delay(10);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        var rowsRead = status.RowsRead - readAtStart;
        var growthMb = (peakManaged - baseline) / 1048576.0;
        output.WriteLine($"FIGURE back-pressure: collector throttled to {SinkDelay.TotalMilliseconds:F0} ms/batch × {consumers} workers " +
                         $"({consumers * BatchSize / SinkDelay.TotalSeconds:F0} samples/s), QUEUE_CAPACITY={Capacity}: " +
                         $"peak queue depth {peakDepth}, peak samples published but not yet stored {peakOutstanding} (bound {OutstandingBound(consumers)}), " +
                         $"streamer read {rowsRead / seconds:F0} rows/s while blocked; managed heap baseline {baseline / 1048576.0:F1} MB, " +
                         $"peak {peakManaged / 1048576.0:F1} MB (growth {growthMb:F1} MB), peak working set {peakWorkingSet / 1048576.0:F0} MB " +
                         $"({samples} measurements over {seconds:F1}s)");

        Assert.InRange(peakDepth, 0, Capacity);
        // Published but not yet in the sink: in the queue, in a consumer shard, or gathered by a consumer for its
        // next append. Every one of those is bounded, so the streamer waits instead of memory growing.
        Assert.InRange(peakOutstanding, 0, OutstandingBound(consumers));
        // The streamer is held to the collector's pace: it reads (one sample per reference row) no more than the
        // collector took in meanwhile, plus what fits between them.
        var entered = sink.SamplesEntered - enteredAtStart;
        Assert.True(rowsRead <= entered + OutstandingBound(consumers),
            $"streamer read {rowsRead} rows in {seconds:F1}s while the collector took {entered}: it is not waiting for the collector");
        Assert.True(growthMb < 64, $"managed heap grew {growthMb:F1} MB while the collector was throttled");
        Assert.True(peakWorkingSet < 1024L * 1024 * 1024, $"working set reached {peakWorkingSet / 1048576} MB");
    }

    /// <summary>Samples that can sit between streamer and store by design: the queue, every consumer shard, and
    /// what each consumer gathers for one append.</summary>
    private static long OutstandingBound(int consumers) =>
        (Capacity + consumers * QueueConsumer.ShardCapacity) * (long)BatchSize + consumers * (long)QueueConsumer.MaxSamplesPerAppend;
}

/// <summary>Tests that measure the whole process's memory run alone, not beside other tests' allocations.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemorySensitive
{
    public const string Name = "Memory-sensitive";
}
