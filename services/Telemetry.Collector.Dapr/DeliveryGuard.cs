using System.Text.Json;
using Telemetry.Hosting;

namespace Telemetry.Collector;

/// <summary>
/// Protection of the subscription port: Kestrel limits sized for deliveries, and a guard in front of the
/// whole pipeline. Dapr's CloudEvents middleware parses a structured CloudEvent before any endpoint runs and
/// throws on one that is not JSON; unguarded, that is a 500, which Dapr redelivers for ever. The guard turns
/// such a delivery (or one the server refuses as too large while it is read) into DROP, counted like every
/// other undecodable message, so it goes to the dead-letter topic once.
/// </summary>
public static class DeliveryGuard
{
    public static IServiceCollection AddDeliveryProtection(this IServiceCollection services)
    {
        services.AddRequestLimits(SubscriptionEndpoints.MaxDeliveryBytes);
        services.AddSingleton<IStartupFilter, GuardStartupFilter>();
        return services;
    }

    private sealed class GuardStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(GuardAsync);
            next(app);
        };
    }

    private static async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.Path.Equals(SubscriptionEndpoints.Route, StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }
        string reason;
        string detail;
        try
        {
            await next(context);
            return;
        }
        catch (JsonException error) when (!context.Response.HasStarted)
        {
            (reason, detail) = ("undecodable", $"body is not a JSON CloudEvent: {error.Message}");
        }
        catch (BadHttpRequestException error) when (!context.Response.HasStarted && error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            (reason, detail) = ("too_large", error.Message);
        }
        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SubscriptionEndpoints));
        SubscriptionEndpoints.Dropped(logger, reason, detail);
        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status200OK;
        await context.Response.WriteAsJsonAsync(new DropAnswer("DROP"));
    }

    private sealed record DropAnswer(string Status);
}
