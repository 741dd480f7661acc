extern alias embedded;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Resilience;
using Telemetry.Core.Windows;
using Telemetry.Hosting;
using Telemetry.Service.Tests.Support;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Service.Tests;

public sealed class StreamerTests : IDisposable
{
    private static readonly TimeSpan Timeout = Eventually.DefaultTimeout;
    private readonly TempDirectory _dir = new();

    private static Dictionary<string, string?> Settings(string csv, int workers, double rate = 0) => new()
    {
        ["CSV_FILE"] = csv,
        ["LOOP"] = "false",
        ["RATE"] = rate.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["WORKERS"] = workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["BATCH_SIZE"] = "7",
    };

    [Fact]
    public async Task Malformed_rows_are_counted_and_skipped_and_every_good_row_is_delivered()
    {
        var good = Dcgm.NumberedRows(12).ToList();
        var rows = new List<string>(good);
        rows.Insert(2, Dcgm.Row("GPU-0000", "host-0", 0, "DCGM_FI_DEV_GPU_UTIL", "abc"));                 // value not a number
        rows.Insert(5, Dcgm.Row("", "host-0", 0, "DCGM_FI_DEV_GPU_UTIL", "1"));                           // no uuid
        rows.Insert(7, Dcgm.Row("GPU-0000", "host-0", 0, "DCGM_FI_DEV_GPU_UTIL", "1", "yesterday"));      // bad timestamp
        rows.Insert(9, "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\"");                        // too few fields
        rows.Add(Dcgm.Row("GPU-0000", "host-0", 0, "", "1"));                                             // no metric name
        var rejectedBefore = TelemetryMetrics.RowsRejected.WithLabels("value").Value;

        await using var streamer = new StreamerHarness(Settings(_dir.File("mixed.csv", Dcgm.File(rows)), workers: 2));
        await streamer.RunOnceAsync(Timeout);

        Assert.Equal(17, streamer.Status.RowsRead);
        Assert.Equal(5, streamer.Status.RowsRejected);
        Assert.Equal(12, streamer.Status.RowsPublished);
        Assert.Equal(12, streamer.Status.SamplesPublished);
        Assert.Equal(1, streamer.Status.PassesCompleted);
        var delivered = streamer.Publisher.Samples.Select(s => (s.Gpu.Uuid, s.Sample.Value)).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => ($"GPU-{i % 4:D4}", (double)i)).Order().ToList(), delivered);
        Assert.True(TelemetryMetrics.RowsRejected.WithLabels("value").Value - rejectedBefore >= 1);
    }

    [Fact]
    public async Task An_nvidia_smi_log_expands_to_one_sample_per_value_and_every_row_is_accounted_for()
    {
        var log = """
            timestamp, name, pci.bus_id, driver_version, uuid, index, utilization.gpu [%], memory.used [MiB], power.draw [W]
            2026/11/26 18:40:00.001, NVIDIA H100 80GB HBM3, 00000000:18:00.0, 550.54.15, GPU-1111, 0, 45 %, 1234 MiB, 120.50 W
            2026/11/26 18:40:00.002, NVIDIA H100 80GB HBM3, 00000000:2A:00.0, 550.54.15, GPU-2222, 1, [N/A], [N/A], [Not Supported]
            2026/11/26 18:40:01.001, NVIDIA H100 80GB HBM3, 00000000:18:00.0, 550.54.15, GPU-1111, 0, 47 %, [N/A], 121.00 W
            """;
        var settings = Settings(_dir.File("nvsmi.csv", log), workers: 1);
        settings["NVSMI_HOSTNAME"] = "node-7";
        await using var streamer = new StreamerHarness(settings);
        await streamer.RunOnceAsync(Timeout);

        var samples = streamer.Publisher.Samples.ToList();
        Assert.Equal(5, samples.Count);
        Assert.All(samples, s => Assert.Equal("node-7", s.Gpu.Hostname));
        Assert.Equal(3, streamer.Status.RowsRead);
        // A line without a single value is read and not published; it must be counted somewhere.
        Assert.Equal(streamer.Status.RowsRead - streamer.Status.RowsRejected, streamer.Status.RowsPublished);
    }

    [Fact]
    public async Task Four_workers_never_send_a_row_twice_in_one_pass()
    {
        const int count = 2000;
        await using var streamer = new StreamerHarness(Settings(_dir.File("numbered.csv", Dcgm.File(Dcgm.NumberedRows(count, gpus: 16))), workers: 4));
        await streamer.RunOnceAsync(Timeout);

        var byLine = streamer.Publisher.Samples.GroupBy(s => (s.Gpu.Uuid, s.Sample.Value)).ToList();
        Assert.Equal(count, byLine.Count);
        Assert.All(byLine, line => Assert.Single(line));
        Assert.Equal(count, streamer.Status.RowsPublished);
        Assert.All(streamer.Publisher.Batches, b => Assert.InRange(b.SampleCount, 1, 7)); // BATCH_SIZE bounds a batch
        Assert.Equal(streamer.Publisher.Batches.Count, streamer.Publisher.Batches.Select(b => b.BatchId).Distinct().Count());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Processing_timestamps_are_unique_and_increase_in_the_order_rows_are_taken(int workers)
    {
        const int count = 1000;
        await using var streamer = new StreamerHarness(Settings(_dir.File("numbered.csv", Dcgm.File(Dcgm.NumberedRows(count, gpus: 1))), workers));
        await streamer.RunOnceAsync(Timeout);

        var samples = streamer.Publisher.Samples.Select(s => s.Sample).ToList();
        Assert.Equal(count, samples.Count);
        Assert.Equal(count, samples.Select(s => s.Timestamp.Ticks).Distinct().Count());
        Assert.All(samples, s => Assert.Equal(DateTimeKind.Utc, s.Timestamp.Kind));
        Assert.All(samples, s => Assert.Equal(new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc), s.SourceTimestamp));
        // Within one batch (one worker) time follows the file; with one worker it does across batches too.
        foreach (var batch in streamer.Publisher.Batches)
        {
            var inBatch = batch.Gpus.Single().Samples;
            for (var i = 1; i < inBatch.Count; i++)
            {
                Assert.True(inBatch[i].Timestamp > inBatch[i - 1].Timestamp);
                Assert.True(inBatch[i].Value > inBatch[i - 1].Value);
            }
        }
        if (workers == 1)
        {
            for (var i = 1; i < samples.Count; i++) Assert.True(samples[i].Timestamp > samples[i - 1].Timestamp);
            Assert.Equal(Enumerable.Range(0, count).Select(i => (double)i), samples.Select(s => s.Value));
        }
    }

    [Fact]
    public async Task A_publisher_outage_is_waited_out_and_every_row_is_published_once_it_is_back()
    {
        var settings = Settings(_dir.File("numbered.csv", Dcgm.File(Dcgm.NumberedRows(100))), workers: 1);
        settings["QUARANTINE_DIR"] = Path.Combine(_dir.Path, "quarantine");
        await using var streamer = new StreamerHarness(settings);
        // The sidecar is unreachable for the first 12 calls: three times the tries any other failure gets.
        var refused = 0;
        streamer.Publisher.Fault = _ => Interlocked.Increment(ref refused) <= 12 ? new HttpRequestException("Connection refused (localhost:50001)") : null;
        await streamer.RunOnceAsync(Timeout);

        Assert.Equal(100, streamer.Status.RowsPublished);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (double)i), streamer.Publisher.Samples.Select(s => s.Sample.Value).Order());
        Assert.Equal(0, streamer.Status.RowsQuarantined);
        Assert.False(Directory.Exists(settings["QUARANTINE_DIR"]), "something was quarantined");
    }

    [Fact]
    public async Task A_batch_the_publisher_always_refuses_is_quarantined_and_every_other_batch_is_published()
    {
        var settings = Settings(_dir.File("numbered.csv", Dcgm.File(Dcgm.NumberedRows(70))), workers: 1);
        var quarantine = Path.Combine(_dir.Path, "quarantine");
        settings["QUARANTINE_DIR"] = quarantine;
        await using var streamer = new StreamerHarness(settings);
        // The batch holding row 30 is refused the same way every time (a topic the app may not publish to, say).
        streamer.Publisher.Fault = batch => batch.Gpus.Any(g => g.Samples.Any(s => s.Value == 30))
            ? new InvalidOperationException("topic telemetry is not allowed for app id telemetry-streamer")
            : null;
        await streamer.RunOnceAsync(Timeout);

        var file = Assert.Single(Directory.GetFiles(quarantine, "*.json"));
        Assert.True(TelemetryJson.TryDeserialize(File.ReadAllBytes(file), out var kept, out var problem), problem);
        Assert.Contains(30.0, kept!.Gpus.SelectMany(g => g.Samples).Select(s => s.Value));
        Assert.Contains("stage: publish", File.ReadAllText(Path.ChangeExtension(file, ".reason.txt")));
        // Every row is accounted for: published, or in the quarantined batch; the batches after it went out.
        Assert.Equal(kept.SampleCount, streamer.Status.RowsQuarantined);
        Assert.Equal(70, streamer.Status.RowsPublished + streamer.Status.RowsQuarantined);
        Assert.Equal(streamer.Status.RowsRead - streamer.Status.RowsRejected, streamer.Status.RowsPublished + streamer.Status.RowsQuarantined);
        Assert.Contains(69.0, streamer.Publisher.Samples.Select(s => s.Sample.Value));
        Assert.Equal(Retries.PermanentAttempts, streamer.Publisher.Calls - streamer.Publisher.Batches.Count);
    }

    [Fact]
    public async Task Rate_paces_each_worker()
    {
        await using var streamer = new StreamerHarness(Settings(_dir.File("twenty.csv", Dcgm.File(Dcgm.NumberedRows(20))), workers: 1, rate: 50));
        var clock = Stopwatch.StartNew();
        await streamer.RunOnceAsync(Timeout);
        clock.Stop();

        // 20 rows at 50/s: 19 intervals of 20 ms after the first row.
        Assert.True(clock.ElapsedMilliseconds >= 300, $"20 rows at RATE=50 took only {clock.ElapsedMilliseconds} ms");
        var times = streamer.Publisher.Samples.Select(s => s.Sample.Timestamp).Order().ToList();
        Assert.Equal(20, times.Count);
        Assert.True((times[^1] - times[0]).TotalMilliseconds >= 300, $"stamps span {(times[^1] - times[0]).TotalMilliseconds} ms");
        // Row k is never stamped before k intervals after the first: a slow machine only delays rows, so this
        // holds however loaded the box is, and fails when rows go out in a burst.
        var gaps = string.Join(", ", times.Skip(1).Select((t, i) => (t - times[i]).TotalMilliseconds.ToString("F1")));
        for (var k = 1; k < times.Count; k++)
        {
            Assert.True((times[k] - times[0]).TotalMilliseconds >= k * 20 - 5, $"row {k} came too early; gaps between stamps (ms): {gaps}");
        }
    }

    [Fact]
    public async Task Stopping_the_embedded_host_publishes_and_stores_every_row_it_read()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CSV_FILE"] = Dcgm.ReferenceFile,
            ["RATE"] = "5",
            ["LOOP"] = "true",
            ["CHECKPOINT_ENABLED"] = "false",
            ["LOG_LEVEL"] = "Warning",
        };
        StreamerStatus status;
        WindowReader reader;
        await using (var host = new EmbeddedFactory(settings))
        {
            status = host.Services.GetRequiredService<StreamerStatus>();
            reader = host.Services.GetRequiredService<WindowReader>();
            // Stop once rows are on their way (RATE=5 per worker: the pass would take minutes).
            await Eventually.UntilAsync(() => status.RowsRead > 0, "the streamer to read its first rows",
                state: () => $"{status.RowsRead} rows read");
            Assert.False(status.Finished.IsCompleted);
        }
        Assert.True(status.Finished.IsCompleted);
        Assert.True(status.RowsRead > 0);
        Assert.True(status.RowsRead < 2470, $"read {status.RowsRead} rows: the pass was not cut short");
        Assert.Equal(status.RowsRead - status.RowsRejected, status.RowsPublished);

        var page = await reader.ListGpusAsync(new GpuListQuery(Limit: 1000));
        Assert.Equal(status.SamplesPublished, page.Gpus.Sum(g => (long)g.Samples));
    }

    public void Dispose() => _dir.Dispose();
}
