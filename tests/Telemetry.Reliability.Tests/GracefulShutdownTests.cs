using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Storage;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Embedded;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Reliability.Tests;

/// <summary>Stopping the embedded host while it streams flat out: every row read is published, every
/// published sample is stored exactly once, the queue ends empty, and the stop fits in a deadline.</summary>
public sealed class GracefulShutdownTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    [Trait("Category", "Fault")]
    public async Task Stopping_while_streaming_stores_everything_read_within_the_deadline()
    {
        CountingSink? sink = null;
        var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv,
            ["LOOP"] = "true",
            ["MAX_ENTRIES"] = "1000000",
        }, CountingSink.Install(TimeSpan.Zero, s => sink = s));
        var status = factory.Services.GetRequiredService<StreamerStatus>();
        var queue = factory.Services.GetRequiredService<BatchQueue>();
        var store = factory.Services.GetRequiredService<IKeyValueStore>();
        Assert.IsType<MemoryKeyValueStore>(store);

        // Stop mid-stream, with samples all along the way: read, queued, and stored.
        await Eventually.UntilAsync(() => sink is { Stored: > 0 } && status.RowsRead > 10_000,
            "the host to stream flat out (over 10,000 rows read, samples stored)",
            state: () => $"{status.RowsRead} rows read, {sink?.Stored} samples stored");
        var readBeforeStop = status.RowsRead;
        var stopwatch = Stopwatch.StartNew();
        await factory.DisposeAsync(); // IHost.StopAsync: streamer stops reading, queue drains, consumer stops
        var stopTime = stopwatch.Elapsed;

        Assert.True(status.Finished.IsCompleted, "the streamer did not finish");
        var report = await WindowAudit.RunAsync(store);
        output.WriteLine($"FIGURE shutdown: stopped after {readBeforeStop}+ rows read in {stopTime.TotalMilliseconds:F0} ms " +
                         $"(deadline {Deadline.TotalSeconds:F0} s): {status.RowsRead} rows read, {status.RowsRejected} rejected, " +
                         $"{status.SamplesPublished} samples published in {status.BatchesPublished} batches, {sink!.Stored} stored, " +
                         $"{sink.Duplicates} duplicates, queue depth {queue.Depth}; store audit: {report}");

        Assert.True(stopTime < Deadline, $"stopping took {stopTime}");
        Assert.True(status.RowsRead > 0);
        Assert.Equal(status.RowsRead - status.RowsRejected, status.RowsPublished);
        Assert.Equal(status.SamplesPublished, sink.SamplesEntered);
        Assert.Equal(status.SamplesPublished, sink.Stored);
        Assert.Equal(0, sink.Duplicates);
        Assert.Equal(0, queue.Depth);
        Assert.Equal(status.SamplesPublished, report.Samples);
        Assert.Equal(0, report.TornWindows);
        Assert.Equal(0, report.Duplicates);
    }
}
