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

    /// <summary>Listens on every port given (0 or repeats are ignored), on all interfaces, and routes by the
    /// port a request arrived on (<see cref="LocalPortRouting"/>).</summary>
    public static WebApplicationBuilder ListenOn(this WebApplicationBuilder builder, params int[] ports)
    {
        builder.Services.AddLocalPortRouting();
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
            live.RequireLocalPort(port.Value);
            ready.RequireLocalPort(port.Value);
        }
        return app;
    }

    /// <summary>Prometheus metrics on their own port, so scraping never competes with the API; that port serves
    /// nothing else.</summary>
    public static WebApplication MapMetricsPort(this WebApplication app, int port)
    {
        app.Use(MethodLabel.Normalise);
        // Request durations of every HTTP endpoint (http_request_duration_seconds), scraped on the metrics port.
        app.UseHttpMetrics();
        app.MapMetrics(MetricsPath).RequireLocalPort(port);
        app.Services.GetRequiredService<LocalPortRouting>().Dedicate(port, MetricsPath);
        return app;
    }

    public const string MetricsPath = "/metrics";

    public static IHealthChecksBuilder AddReadinessCheck<T>(this IServiceCollection services, string name) where T : class, IHealthCheck =>
        services.AddHealthChecks().AddCheck<T>(name, tags: [ReadyTag]);
}
