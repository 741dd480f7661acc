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
        while (watch.Elapsed < TimeSpan.FromSeconds(4))
        {
            peakDepth = Math.Max(peakDepth, queue.Depth);
            peakOutstanding = Math.Max(peakOutstanding, status.BatchesPublished - sink!.BatchesEntered);
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
                         $"peak queue depth {peakDepth}, peak batches published but not yet taken {peakOutstanding}, " +
                         $"streamer read {rowsRead / seconds:F0} rows/s while blocked; managed heap baseline {baseline / 1048576.0:F1} MB, " +
                         $"peak {peakManaged / 1048576.0:F1} MB (growth {growthMb:F1} MB), peak working set {peakWorkingSet / 1048576.0:F0} MB " +
                         $"({samples} measurements over {seconds:F1}s)");

        Assert.InRange(peakDepth, 0, Capacity);
        // Published but not yet in the sink: in the queue, or taken by a consumer that has not reached the sink yet.
        Assert.InRange(peakOutstanding, 0, Capacity + consumers);
        // The streamer is held to the collector's pace (plus the batches that fit in the queue).
        Assert.True(rowsRead <= seconds * consumers * BatchSize / SinkDelay.TotalSeconds * 1.5 + (Capacity + consumers) * BatchSize,
            $"streamer read {rowsRead} rows in {seconds:F1}s: it is not waiting for the collector");
        Assert.True(growthMb < 64, $"managed heap grew {growthMb:F1} MB while the collector was throttled");
        Assert.True(peakWorkingSet < 1024L * 1024 * 1024, $"working set reached {peakWorkingSet / 1048576} MB");
    }
}
