using Microsoft.Extensions.Options;
using Telemetry.Collector;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Storage;
using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Imports;
using Telemetry.Streamer;

namespace Telemetry.Standalone;

public static class EmbeddedServiceExtensions
{
    /// <summary>The whole pipeline in this process: store, queue, collector, streamer, gateway.</summary>
    public static IServiceCollection AddEmbeddedPipeline(this IServiceCollection services)
    {
        services.AddSettings<EmbeddedOptions>();
        services.AddSingleton<IKeyValueStore>(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<EmbeddedOptions>>().Value;
            return settings.CheckpointEnabled
                ? new SqliteKeyValueStore(settings.DatabasePath)
                : new MemoryKeyValueStore();
        });
        services.AddSingleton<BatchQueue>();
        services.AddSingleton<IBatchPublisher>(provider => provider.GetRequiredService<BatchQueue>());
        services.AddTelemetryCollector();
        // Order matters: hosted services stop in reverse, so the streamer stops (and queues what it read)
        // before the consumer drains the queue.
        services.AddHostedService<QueueConsumer>();
        services.AddTelemetryStreamer();
        services.AddTelemetryGateway();
        // CSV imports run in process and hand batches straight to the collector: progress is recorded only
        // once the samples are stored, so a resumed import loses nothing that sat in the queue.
        services.AddTelemetryImports(provider => new DirectSinkPublisher(provider.GetRequiredService<IBatchSink>()))
            .AddInProcessImports();
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return services;
    }
}
