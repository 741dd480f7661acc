using Microsoft.Extensions.Options;
using Telemetry.Collector;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;
using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Hosting.Status;
using Telemetry.Imports;
using Telemetry.Streamer;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Embedded;

public static class EmbeddedServiceExtensions
{
    /// <summary>The whole pipeline in this process: store, queue, collector, streamer, gateway.</summary>
    public static IServiceCollection AddEmbeddedPipeline(this IServiceCollection services)
    {
        services.AddSettings<EmbeddedOptions>();
        services.AddSingleton<IValidateOptions<EmbeddedOptions>, EmbeddedOptionsValidator>();
        services.AddSingleton<IKeyValueStore>(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<EmbeddedOptions>>().Value;
            if (!settings.CheckpointEnabled) return new MemoryKeyValueStore();
            try
            {
                return new SqliteKeyValueStore(settings.DatabasePath);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
            {
                // A DATA_DIR that cannot hold the database is a setting to fix, not a crash to debug.
                throw new ConfigurationException(DataDirProblem(settings, error));
            }
        });
        // One quarantine for both halves: what the collector cannot store and what the streamer cannot publish.
        services.AddSingleton<IQuarantine>(provider => new FileQuarantine(
            provider.GetRequiredService<IOptions<EmbeddedOptions>>().Value.QuarantinePath, provider.GetService<ILogger<FileQuarantine>>()));
        services.TryAddSingleton<FailureClassifier, SqliteFailureClassifier>();
        services.TryAddSingleton(Backoff.Delivery);
        services.AddSingleton<BatchQueue>();
        services.AddSingleton<IBatchPublisher>(provider => provider.GetRequiredService<BatchQueue>());
        services.AddTelemetryCollector();
        // Order matters: hosted services stop in reverse, so the streamer stops (and queues what it read)
        // before the consumer drains the queue.
        services.AddHostedService<OrphanSweep>(); // starts (and finishes) before the consumer writes
        services.AddHostedService<QueueConsumer>();
        services.AddTelemetryStreamer();
        services.AddTelemetryGateway();
        services.AddInstanceHeartbeat(PipelineRole.Embedded);
        // CSV imports run in process and hand batches straight to the collector: progress is recorded only
        // once the samples are stored, so a resumed import loses nothing that sat in the queue.
        services.AddTelemetryImports(provider => new DirectSinkPublisher(provider.GetRequiredService<IBatchSink>()))
            .AddInProcessImports();
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return services;
    }

    internal static string DataDirProblem(EmbeddedOptions settings, Exception error) =>
        $"DATA_DIR '{settings.DataDir}' cannot hold the checkpoint database {settings.DatabasePath}: {error.Message}";
}
