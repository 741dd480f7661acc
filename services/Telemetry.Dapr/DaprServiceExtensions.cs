using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;
using Telemetry.Hosting;

namespace Telemetry.Dapr;

public static class DaprServiceExtensions
{
    /// <summary>DaprClient, component names, the sidecar readiness check and the state store adapter.</summary>
    public static IServiceCollection AddDaprState(this IServiceCollection services)
    {
        services.AddSettings<DaprOptions>();
        services.AddDaprClient();
        services.AddSingleton<IKeyValueStore, DaprKeyValueStore>();
        services.AddSingleton<FailureClassifier, DaprFailureClassifier>();
        services.AddReadinessCheck<SidecarHealthCheck>("dapr-sidecar");
        return services;
    }

    /// <summary>Publishing through Dapr pub/sub, after the sidecar answered.</summary>
    public static IServiceCollection AddDaprPublisher(this IServiceCollection services)
    {
        services.AddSingleton<SidecarGate>();
        services.AddHostedService(provider => provider.GetRequiredService<SidecarGate>());
        services.AddSingleton<IBatchPublisher, DaprBatchPublisher>();
        return services;
    }
}
