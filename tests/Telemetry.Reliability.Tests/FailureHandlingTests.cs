using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Telemetry.Collector;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Hosting;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Embedded;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// The embedded collector under failures of the two kinds it tells apart: a store that is down for a while (every
/// batch waits and is stored once it is back) and a batch that fails for a reason waiting cannot fix (it is
/// quarantined in a file, and every other batch is stored meanwhile).
/// </summary>
public sealed class FailureHandlingTests(ITestOutputHelper output)
{
    private const int ReferenceSamples = 2470;

    [Fact]
    [Trait("Category", "Fault")]
    public async Task A_store_outage_loses_nothing_and_storing_resumes_when_the_store_is_back()
    {
        var store = new OutageStore(new MemoryKeyValueStore()) { Down = true };
        var retriesBefore = TelemetryMetrics.StoreRetries.WithLabels("transient").Value;
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv,
            ["BATCH_SIZE"] = "100",
        }, services => services.AddSingleton<IKeyValueStore>(store));
        var status = factory.Services.GetRequiredService<StreamerStatus>();
        var quarantine = factory.Services.GetRequiredService<IOptions<EmbeddedOptions>>().Value.QuarantinePath;

        // Down: every consumer keeps trying (each attempt is refused at its first call) while the file is read.
        await Eventually.UntilAsync(() => store.Refused >= 8 && status.Finished.IsCompleted,
            "the streamer to finish reading and the consumers to be refused 8 times",
            state: () => $"{store.Refused} calls refused, {status.RowsPublished} rows published");
        var outage = Stopwatch.StartNew();
        store.Down = false;
        var report = await Eventually.ValueAsync(() => WindowAudit.RunAsync(store.Inner), r => r.Samples >= ReferenceSamples,
            $"all {ReferenceSamples} samples stored once the store is back", describe: r => r.ToString());

        output.WriteLine($"FIGURE store outage (embedded): {store.Refused} store calls refused (disk I/O error) while the reference file was read, " +
                         $"{TelemetryMetrics.StoreRetries.WithLabels("transient").Value - retriesBefore} transient retries; store back: all samples stored " +
                         $"{outage.Elapsed.TotalMilliseconds:F0} ms later; {report}");
        Assert.Equal(ReferenceSamples, status.RowsPublished);
        Assert.Equal(ReferenceSamples, report.Samples);
        Assert.Equal(247, report.Gpus);
        Assert.Equal(0, report.Duplicates);
        Assert.Equal(0, report.TornWindows);
        Assert.Equal(0, status.RowsQuarantined);
        Assert.False(Directory.Exists(quarantine) && Directory.EnumerateFiles(quarantine).Any(), $"something was quarantined in {quarantine}");
    }

    [Fact]
    [Trait("Category", "Fault")]
    public async Task A_poison_batch_is_quarantined_while_every_other_batch_is_stored_and_a_restart_replays_it()
    {
        // A fault only one sample of the file triggers (think of a bug in the store for one value): storing any batch
        // that holds it fails the same way every time.
        var (poisonGpu, poisonMetric) = RowOfReferenceFile(1234);
        bool IsPoison(TelemetryBatch batch) =>
            batch.Gpus.Any(g => g.Gpu.Uuid == poisonGpu && g.Samples.Any(s => s.MetricName == poisonMetric));
        var quarantinedBefore = TelemetryMetrics.BatchesQuarantined.WithLabels("store").Value;
        using var dir = new TempDirectory();
        var quarantine = Path.Combine(dir.Path, "quarantine");
        var store = new MemoryKeyValueStore(); // outlives the first host, as a database file would
        // Disposed below to restart; `await using` only covers a failure before that (disposing twice is a no-op).
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv,
            ["BATCH_SIZE"] = "100",
            ["QUARANTINE_DIR"] = quarantine,
        }, services => services.AddSingleton<IKeyValueStore>(store).AddSingleton<IBatchSink>(provider =>
            new PoisonSink(provider.GetRequiredService<TelemetryIngestor>(), IsPoison)));
        Assert.Same(store, factory.Services.GetRequiredService<IKeyValueStore>());

        var files = await Eventually.ValueAsync(() => Task.FromResult(QuarantinedBatches(quarantine)), found => found.Length > 0,
            $"a batch to be quarantined in {quarantine}", describe: found => $"{found.Length} files");
        var batch = ReadBatch(Assert.Single(files));
        var report = await Eventually.ValueAsync(() => WindowAudit.RunAsync(store), r => r.Samples >= ReferenceSamples - batch.SampleCount,
            $"every sample not quarantined ({ReferenceSamples} - {batch.SampleCount}) stored", describe: r => r.ToString());

        var reason = File.ReadAllText(Path.ChangeExtension(files[0], ".reason.txt"));
        output.WriteLine($"FIGURE poison batch (embedded): 1 batch of {batch.SampleCount} samples quarantined at the store stage " +
                         $"({Path.GetFileName(files[0])}), {report.Samples} other samples stored, {report.Samples + batch.SampleCount} of {ReferenceSamples} accounted for");
        Assert.True(IsPoison(batch), "the quarantined batch does not hold the poison sample");
        Assert.InRange(batch.SampleCount, 1, 100); // one streamer batch (or part of one), not a whole gathered append
        Assert.Equal(ReferenceSamples, report.Samples + batch.SampleCount); // nothing lost: stored or quarantined
        Assert.Equal(0, report.Duplicates);
        Assert.Single(QuarantinedBatches(quarantine));
        Assert.Contains("stage: store", reason);
        Assert.Contains(nameof(InvalidDataException), reason);
        Assert.True(TelemetryMetrics.BatchesQuarantined.WithLabels("store").Value - quarantinedBefore >= 1);

        await factory.DisposeAsync();

        // The cause is fixed (no poison sink) and the host restarts on the same store and quarantine, with nothing new
        // to stream: it replays the quarantined batch at start-up and releases it.
        var emptyCsv = Path.Combine(dir.Path, "empty.csv");
        File.WriteAllLines(emptyCsv, [File.ReadLines(TestPaths.ReferenceCsv).First()]);
        await using var restarted = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CSV_FILE"] = emptyCsv,
            ["QUARANTINE_DIR"] = quarantine,
        }, services => services.AddSingleton<IKeyValueStore>(store));
        _ = restarted.Services; // starts the host
        await Eventually.UntilAsync(() => QuarantinedBatches(quarantine).Length == 0 && !Directory.EnumerateFiles(quarantine).Any(),
            "the restarted host to replay and release the quarantined batch", state: () => string.Join(", ", Directory.GetFiles(quarantine)));
        Assert.Equal(ReferenceSamples, (await WindowAudit.RunAsync(store)).Samples);
    }

    private static string[] QuarantinedBatches(string directory) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, "*.json") : [];

    private static TelemetryBatch ReadBatch(string path) =>
        TelemetryJson.TryDeserialize(File.ReadAllBytes(path), out var batch, out var problem)
            ? batch!
            : throw new InvalidDataException($"{path}: {problem}");

    private static (string Uuid, string Metric) RowOfReferenceFile(int index)
    {
        using var reader = TelemetryCsvReader.Open(TestPaths.ReferenceCsv, TelemetryCsvOptions.Default);
        var row = reader.ReadAll().Skip(index).First().Row!;
        return (row.Gpu.Uuid, Assert.Single(row.Metrics).Name);
    }

    /// <summary>The collector with a deterministic fault for some batches.</summary>
    private sealed class PoisonSink(IBatchSink inner, Func<TelemetryBatch, bool> isPoison) : IBatchSink
    {
        public Task<AppendResult> IngestAsync(TelemetryBatch batch, CancellationToken cancellationToken) =>
            isPoison(batch)
                ? throw new InvalidDataException($"batch {batch.BatchId} holds a sample this store cannot take")
                : inner.IngestAsync(batch, cancellationToken);
    }

    /// <summary>A store that, while <see cref="Down"/>, refuses every call the way SQLite does when its disk fails.</summary>
    private sealed class OutageStore(IKeyValueStore inner) : IKeyValueStore
    {
        private int _refused;

        public IKeyValueStore Inner => inner;
        public volatile bool Down;
        public int Refused => Volatile.Read(ref _refused);

        public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            RefuseIfDown();
            return inner.GetAsync(key, cancellationToken);
        }

        public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
        {
            RefuseIfDown();
            return inner.GetManyAsync(keys, cancellationToken);
        }

        public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
        {
            RefuseIfDown();
            return inner.ExecuteAsync(operations, cancellationToken);
        }

        public Task<bool> PingAsync(CancellationToken cancellationToken = default) =>
            Down ? Task.FromResult(false) : inner.PingAsync(cancellationToken);

        /// <summary>Throws what SQLite throws for a failing disk (SQLITE_IOERR, code 10).</summary>
        private void RefuseIfDown()
        {
            if (!Down) return;
            Interlocked.Increment(ref _refused);
            throw new SqliteException("SQLite Error 10: 'disk I/O error'.", 10);
        }
    }
}
