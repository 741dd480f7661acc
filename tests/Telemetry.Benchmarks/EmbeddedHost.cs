extern alias embedded;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Storage;

using EmbeddedProgram = embedded::Program;

namespace Telemetry.Benchmarks;

/// <summary>
/// The embedded host (the real Telemetry.Embedded Program) on Kestrel over loopback, plus one extra route,
/// <c>/bench/baseline/{name}</c>, that writes bytes held in memory: the "same host, same bytes, no work"
/// baseline of the query-latency figure. It is a middleware in front of routing, so if anything it is a
/// little cheaper than a routed endpoint, which only makes the comparison stricter.
/// </summary>
internal sealed class EmbeddedHost : IAsyncDisposable
{
    private readonly WebApplicationFactory<EmbeddedProgram> _factory;
    public HttpClient Client { get; }
    public IServiceProvider Services => _factory.Services;
    public BaselineResponses Baselines { get; } = new();
    public string DataDir { get; }

    static EmbeddedHost()
    {
        // WebApplicationFactory looks for the host's content root next to the solution file by assembly name;
        // the services live one folder down.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TELEMETRY_EMBEDDED",
            Path.Combine(Paths.RepositoryRoot, "services", "Telemetry.Embedded"));
    }

    public EmbeddedHost(IReadOnlyDictionary<string, string> settings, IKeyValueStore? store = null, string? dataDir = null)
    {
        DataDir = dataDir ?? Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
        var port = FreePort();
        var metricsPort = FreePort();
        var baselines = Baselines;
        _factory = new WebApplicationFactory<EmbeddedProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("PORT", port.ToString());
            builder.UseSetting("METRICS_PORT", metricsPort.ToString());
            builder.UseSetting("DATA_DIR", DataDir);
            builder.UseSetting("LOG_LEVEL", "Warning");
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.ConfigureServices(services =>
            {
                if (store is not null) services.AddSingleton(store);
                services.AddSingleton<IStartupFilter>(new BaselineFilter(baselines));
            });
        });
        _factory.UseKestrel();
        _factory.StartServer();
        Client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromMinutes(2),
        };
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _factory.DisposeAsync();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    public static int FreePort() => AppProcess.FreePort();

    private sealed class BaselineFilter(BaselineResponses responses) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                var path = context.Request.Path.Value;
                if (path is not null && path.StartsWith("/bench/baseline/", StringComparison.Ordinal)
                    && responses.TryGet(path["/bench/baseline/".Length..], out var body))
                {
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json; charset=utf-8";
                    context.Response.ContentLength = body.Length;
                    await context.Response.Body.WriteAsync(body);
                    return;
                }
                await nextMiddleware(context);
            });
            next(app);
        };
    }
}

internal sealed class BaselineResponses
{
    private readonly Dictionary<string, byte[]> _bodies = new(StringComparer.Ordinal);

    public void Set(string name, byte[] body)
    {
        lock (_bodies) _bodies[name] = body;
    }

    public bool TryGet(string name, out byte[] body)
    {
        lock (_bodies) return _bodies.TryGetValue(name, out body!);
    }
}
