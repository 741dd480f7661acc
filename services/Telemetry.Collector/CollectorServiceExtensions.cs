using Microsoft.Extensions.Options;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Windows;
using Telemetry.Hosting;

namespace Telemetry.Collector;

public static class CollectorServiceExtensions
{
    /// <summary>Validation and window storage. The host supplies the <see cref="Telemetry.Core.Storage.IKeyValueStore"/>
    /// and whatever delivers batches to <see cref="IBatchSink"/>.</summary>
    public static IServiceCollection AddTelemetryCollector(this IServiceCollection services)
    {
        services.AddSettings<CollectorOptions>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(provider => new WindowOptions { MaxEntries = provider.GetRequiredService<IOptions<CollectorOptions>>().Value.MaxEntries });
        services.AddSingleton<IWindowObserver, PrometheusWindowObserver>();
        services.AddSingleton<WindowWriter>();
        services.AddSingleton<TelemetryIngestor>();
        services.AddSingleton<IBatchSink>(provider => provider.GetRequiredService<TelemetryIngestor>());
        return services;
    }
}
