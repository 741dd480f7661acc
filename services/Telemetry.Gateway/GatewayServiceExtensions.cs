using Microsoft.AspNetCore.Diagnostics;
using Scalar.AspNetCore;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Hosting;

namespace Telemetry.Gateway;

public static class GatewayServiceExtensions
{
    /// <summary>Reader, JSON, problem details, OpenAPI and the store readiness check. The host supplies the
    /// <see cref="IKeyValueStore"/>.</summary>
    public static IServiceCollection AddTelemetryGateway(this IServiceCollection services)
    {
        services.AddSettings<QueryOptions>();
        services.AddSingleton(provider => new WindowReader(provider.GetRequiredService<IKeyValueStore>(),
            provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<QueryOptions>>().Value.EffectiveCacheSamples));
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
        });
        services.AddProblemDetails();
        services.AddOpenApi("v1", options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "GPU Telemetry API";
            document.Info.Description = "Per-GPU telemetry windows collected by the TelemetryPipeline.";
            return Task.CompletedTask;
        }));
        services.AddReadinessCheck<StoreHealthCheck>("state-store");
        return services;
    }

    /// <summary>Errors as problem+json without internals, the API, its OpenAPI document and the UI at /swagger.</summary>
    public static WebApplication UseTelemetryGateway(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = _ => StatusCodes.Status500InternalServerError });
        app.UseStatusCodePages();
        app.MapOpenApi();
        app.MapScalarApiReference("/swagger", options => options.WithTitle("GPU Telemetry API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        app.MapTelemetryApi();
        app.MapDashboard();
        return app;
    }
}
