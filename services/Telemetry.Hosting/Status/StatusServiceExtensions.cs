using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Telemetry.Hosting.Status;

public static class StatusServiceExtensions
{
    /// <summary>This process reports a heartbeat as <paramref name="role"/> to the shared store (the host
    /// supplies the <see cref="Telemetry.Core.Storage.IKeyValueStore"/>); the gateway's <c>/api/v1/status</c>
    /// reads them all.</summary>
    public static IServiceCollection AddInstanceHeartbeat(this IServiceCollection services, PipelineRole role)
    {
        services.AddSettings<StatusOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<StatusOptions>>().Value);
        services.AddSingleton(provider => new LocalInstance(role, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<HeartbeatStore>();
        services.AddHostedService<HeartbeatService>();
        return services;
    }
}
