using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Telemetry.Core.Pipeline;
using Telemetry.Hosting;

namespace Telemetry.Imports;

public static class ImportServiceExtensions
{
    /// <summary>Settings, store, steps and intake. The host adds a runner: <see cref="AddInProcessImports"/>
    /// (embedded) or <c>AddImportWorkflows</c> (Dapr, in Telemetry.Imports.Dapr). Publishing goes through the host's
    /// <see cref="IBatchPublisher"/> unless <paramref name="publisher"/> says otherwise.</summary>
    public static IServiceCollection AddTelemetryImports(this IServiceCollection services,
        Func<IServiceProvider, IBatchPublisher>? publisher = null)
    {
        services.AddSettings<ImportOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ImportStore>();
        services.AddSingleton(provider => new ImportPublisher(
            publisher?.Invoke(provider) ?? provider.GetRequiredService<IBatchPublisher>()));
        services.AddSingleton<ImportSteps>();
        services.AddSingleton<ImportIntake>();
        services.Configure<JsonOptions>(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ImportJsonContext.Default));
        return services;
    }

    /// <summary>Embedded mode: imports run in this process, one at a time, resumed after a restart.</summary>
    public static IServiceCollection AddInProcessImports(this IServiceCollection services)
    {
        services.AddSingleton<InProcessImportRunner>();
        services.AddSingleton<IImportScheduler>(provider => provider.GetRequiredService<InProcessImportRunner>());
        services.AddHostedService(provider => provider.GetRequiredService<InProcessImportRunner>());
        return services;
    }
}
