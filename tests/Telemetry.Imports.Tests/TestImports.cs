using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Imports.Tests;

/// <summary>Keeps every published batch; can be told to fail the next N publishes.</summary>
internal sealed class RecordingPublisher : IBatchPublisher
{
    public List<TelemetryBatch> Batches { get; } = [];
    public int FailuresLeft { get; set; }

    public Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        if (FailuresLeft > 0)
        {
            FailuresLeft--;
            throw new IOException("pub/sub unavailable");
        }
        lock (Batches) Batches.Add(batch);
        return Task.CompletedTask;
    }

    public IEnumerable<MetricSample> Samples => Batches.SelectMany(b => b.Gpus).SelectMany(g => g.Samples);
}

/// <summary>Import store, steps and intake over a memory store, as the hosts wire them.</summary>
internal sealed class TestImports : IImportScheduler
{
    public TestImports(int chunkBytes = 1024, long maxBytes = ImportOptions.DefaultMaxBytes, int batchSize = 50, int history = 100, int maxQueued = 8)
    {
        Options = Microsoft.Extensions.Options.Options.Create(new ImportOptions
        {
            ChunkBytes = chunkBytes, MaxBytes = maxBytes, BatchSize = batchSize, History = history, MaxQueued = maxQueued,
        });
        Store = new ImportStore(KeyValues, Options, TimeProvider.System);
        Steps = new ImportSteps(Store, new ImportPublisher(Publisher), new WindowReader(KeyValues), Options, NullLogger<ImportSteps>.Instance);
        Intake = new ImportIntake(Store, this, Options);
    }

    public MemoryKeyValueStore KeyValues { get; } = new();
    public RecordingPublisher Publisher { get; } = new();
    public IOptions<ImportOptions> Options { get; }
    public ImportStore Store { get; }
    public ImportSteps Steps { get; }
    public ImportIntake Intake { get; }
    public List<string> Scheduled { get; } = [];

    public Task ScheduleAsync(ImportRecord record, CancellationToken cancellationToken)
    {
        Scheduled.Add(record.Id);
        return Task.CompletedTask;
    }

    public Task CancelAsync(string id, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<ImportRecord> UploadAsync(string csv, ImportMode mode = ImportMode.Replay, string? hostname = null) =>
        UploadAsync(Encoding.UTF8.GetBytes(csv), mode, hostname);

    public Task<ImportRecord> UploadAsync(byte[] csv, ImportMode mode = ImportMode.Replay, string? hostname = null) =>
        Intake.AcceptAsync(new MemoryStream(csv), "test.csv", () => new ImportRequestOptions(mode, hostname), CancellationToken.None);

    public async Task<bool> HasKeyAsync(string key) => await KeyValues.GetAsync(key) is not null;
}

internal static class Csv
{
    public const string DcgmHeader = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

    /// <summary>A DCGM file of <paramref name="rows"/> rows: GPU i%3, a distinct metric per row, one second.</summary>
    public static string Dcgm(int rows, string timestamp = "2025-07-18T20:42:34Z")
    {
        var text = new StringBuilder(DcgmHeader).Append('\n');
        for (var i = 0; i < rows; i++)
        {
            var gpu = i % 3;
            text.Append($"\"{timestamp}\",\"METRIC_{i}\",\"{gpu}\",\"nvidia{gpu}\",\"GPU-test-{gpu}\",\"NVIDIA H100\",\"host-a\",\"\",\"\",\"\",\"{i}\",\"a=\"\"1\"\",b=\"\"2\"\"\"\n");
        }
        return text.ToString();
    }

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static string ReferenceFile => Fixture(Path.Combine("reference", "dcgm_metrics_20250718_134233.csv"));
}
