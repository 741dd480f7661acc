using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Telemetry.Hosting;

/// <summary>The endpoint answers only requests that arrived on this local port.</summary>
public sealed record LocalPortMetadata(int Port);

/// <summary>
/// Routes by the port a request was accepted on, not by its <c>Host</c> header. <c>RequireHost("*:9091")</c>
/// matches the header, which the client writes: <c>curl -H 'Host: x:9091' :8081/metrics</c> reached the
/// metrics on the API port, and a container health probe that sends no port in its Host header missed the
/// health endpoint. The port a socket was accepted on cannot be forged.
/// <list type="bullet">
/// <item>An endpoint with <see cref="LocalPortMetadata"/> matches only on that port.</item>
/// <item>A port made dedicated (<see cref="Dedicate"/>: the metrics port) serves nothing but its own endpoints:
/// any other path there is 404 before the app runs, so neither the API nor static files leak onto it.</item>
/// </list>
/// </summary>
public sealed class LocalPortRouting
{
    private readonly Dictionary<int, PathString[]> _dedicated = [];

    /// <summary>From now on, <paramref name="port"/> serves only <paramref name="paths"/>.</summary>
    public void Dedicate(int port, params PathString[] paths)
    {
        lock (_dedicated) _dedicated[port] = paths;
    }

    internal bool Refuses(HttpContext context)
    {
        var port = LocalPort(context);
        PathString[]? allowed;
        lock (_dedicated)
        {
            if (!_dedicated.TryGetValue(port, out allowed)) return false;
        }
        return !Array.Exists(allowed, path => context.Request.Path.Equals(path, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The port the connection was accepted on. Kestrel sets it for every TCP connection (the only kind these
    /// services listen on, see <see cref="WebHostExtensions.ListenOn"/>). The in-memory test server has no socket
    /// and leaves the local address unset; only there does the Host header's port stand in, so tests can still
    /// reach each port through the client's base address.
    /// </summary>
    public static int LocalPort(HttpContext context)
    {
        var connection = context.Connection;
        if (connection.LocalPort != 0 || connection.LocalIpAddress is not null) return connection.LocalPort;
        return context.Request.Host.Port ?? 80;
    }
}

/// <summary>
/// Drops candidate endpoints whose <see cref="LocalPortMetadata"/> names another port. Shaped like ASP.NET Core's
/// own <c>HostMatcherPolicy</c> (dotnet/aspnetcore src/Http/Routing/src/Matching/HostMatcherPolicy.cs), which does
/// the same with the Host header; the order runs it just after that one.
/// </summary>
internal sealed class LocalPortMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    public override int Order => -90;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) =>
        endpoints.Any(endpoint => endpoint.Metadata.GetMetadata<LocalPortMetadata>() is not null);

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var port = LocalPortRouting.LocalPort(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Endpoint.Metadata.GetMetadata<LocalPortMetadata>() is { } required && required.Port != port)
            {
                candidates.SetValidity(i, false);
            }
        }
        return Task.CompletedTask;
    }
}

public static class LocalPortRoutingExtensions
{
    /// <summary>Serves the endpoint only on <paramref name="port"/> (the port the request was accepted on).</summary>
    public static TBuilder RequireLocalPort<TBuilder>(this TBuilder builder, int port) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.Metadata.Add(new LocalPortMetadata(port)));
        return builder;
    }

    /// <summary>Registered by <see cref="WebHostExtensions.ListenOn"/>: the matcher policy, and a guard in front
    /// of the whole pipeline for dedicated ports.</summary>
    internal static void AddLocalPortRouting(this IServiceCollection services)
    {
        if (services.Any(service => service.ServiceType == typeof(LocalPortRouting))) return;
        services.AddSingleton<LocalPortRouting>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, LocalPortMatcherPolicy>());
        services.AddSingleton<IStartupFilter, DedicatedPortStartupFilter>();
    }

    private sealed class DedicatedPortStartupFilter(LocalPortRouting routing) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                if (!routing.Refuses(context)) return following(context);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
            next(app);
        };
    }
}

/// <summary>Keeps the <c>method</c> label of the HTTP metrics to a fixed set.</summary>
internal static class MethodLabel
{
    /// <summary>The label every method outside RFC 9110's registered set (and PATCH) is counted under.</summary>
    public const string Other = "OTHER";

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete,
        HttpMethods.Patch, HttpMethods.Options, HttpMethods.Trace, HttpMethods.Connect,
    };

    /// <summary>
    /// prometheus-net labels <c>http_request*</c> series with <c>context.Request.Method</c> as sent
    /// (prometheus-net Prometheus.AspNetCore/HttpMetrics/HttpRequestMiddlewareBase.cs, CreateLabelValues), and
    /// Kestrel accepts any token as a method: 50 invented methods made ~1,000 series, a 12 KB one added ~250 KB to
    /// every scrape. Routing has already chosen the endpoint (a 405 for an unknown method) when this runs, so
    /// renaming the method changes only what the metrics see.
    /// </summary>
    public static Task Normalise(HttpContext context, RequestDelegate next)
    {
        if (!Known.Contains(context.Request.Method)) context.Request.Method = Other;
        return next(context);
    }
}
