using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Prometheus;

namespace Telemetry.Hosting;

public static class WebHostExtensions
{
    public const string ReadyTag = "ready";

    /// <summary>Listens on every port given (0 or repeats are ignored), on all interfaces.</summary>
    public static WebApplicationBuilder ListenOn(this WebApplicationBuilder builder, params int[] ports)
    {
        // In-memory test servers ignore this; they reach each port through the Host header instead.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var port in ports.Where(port => port > 0).Distinct()) kestrel.ListenAnyIP(port);
        });
        return builder;
    }

    /// <summary><c>/health</c> answers while the process lives; <c>/health/ready</c> runs the checks tagged
    /// <see cref="ReadyTag"/> (store, sidecar) and answers 503 until they pass.</summary>
    public static WebApplication MapHealth(this WebApplication app, int? port = null)
    {
        var live = app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false });
        var ready = app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        if (port is > 0)
        {
            live.RequireHost($"*:{port}");
            ready.RequireHost($"*:{port}");
        }
        return app;
    }

    /// <summary>Prometheus metrics on their own port, so scraping never competes with the API.</summary>
    public static WebApplication MapMetricsPort(this WebApplication app, int port)
    {
        // Request durations of every HTTP endpoint (http_request_duration_seconds), scraped on the metrics port.
        app.UseHttpMetrics();
        app.MapMetrics().RequireHost($"*:{port}");
        return app;
    }

    public static IHealthChecksBuilder AddReadinessCheck<T>(this IServiceCollection services, string name) where T : class, IHealthCheck =>
        services.AddHealthChecks().AddCheck<T>(name, tags: [ReadyTag]);
}
