using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Hosting.Deployment;
using Telemetry.DaprDouble;
using Telemetry.Streamer;

namespace Telemetry.Dapr.Tests;

/// <summary>
/// A Dapr deployment in one test process: one backend with the state store (Redis semantics by default), pub/sub
/// and Resiliency policies the components/ folder declares, and each service host running behind its own sidecar
/// double, talking to it with the real DaprClient through DAPR_GRPC_ENDPOINT / DAPR_HTTP_ENDPOINT.
/// </summary>
public sealed class DaprCluster : IAsyncDisposable
{
    public static readonly string ReferenceCsv = Path.Combine(RepositoryRoot(), "data", "dcgm_metrics_20250718_134233.csv");
    private readonly List<IAsyncDisposable> _owned = [];

    public DaprBackend Backend { get; } = new();

    public DaprCluster(StateStoreKind store = StateStoreKind.Redis)
    {
        Backend.AddStateStore(new StateStoreOptions
        {
            Name = DeploymentDefaults.StateStoreName,
            Kind = store,
            KeyPrefix = KeyPrefixMode.Name,
            Scopes = [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId, DeploymentDefaults.GatewayAppId],
        });
        Backend.AddPubSub(new PubSubOptions
        {
            Name = DeploymentDefaults.PubSubName,
            Scopes = [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId],
            // components/pubsub.yaml says 60 s; shortened so a test of a killed collector does not wait a minute.
            ProcessingTimeout = TimeSpan.FromSeconds(2),
        });
        // The policies the sidecars apply, read from the file daprd would load.
        Backend.Resiliency = ResiliencySpec.Load(Path.Combine(RepositoryRoot(), "components", "resiliency.yaml"));
    }

    public async Task<Node> StartCollectorAsync(Action<IWebHostBuilder>? configure = null)
    {
        var sidecar = await Backend.StartSidecarAsync(DeploymentDefaults.CollectorAppId);
        var factory = Track(new WebApplicationFactory<CollectorProgram>().WithWebHostBuilder(builder =>
        {
            UseSidecar(builder, sidecar);
            configure?.Invoke(builder);
        }));
        var app = factory.CreateClient();
        app.BaseAddress = new Uri($"http://localhost:{DeploymentDefaults.CollectorAppPort}");
        await sidecar.ConnectAppAsync(app);
        return new Node(sidecar, factory, factory.Services, app);
    }

    public async Task<Node> StartGatewayAsync()
    {
        var sidecar = await Backend.StartSidecarAsync(DeploymentDefaults.GatewayAppId);
        var factory = Track(new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(builder => UseSidecar(builder, sidecar)));
        var api = factory.CreateClient();
        api.BaseAddress = new Uri($"http://localhost:{DeploymentDefaults.GatewayPort}");
        return new Node(sidecar, factory, factory.Services, api);
    }

    public async Task<Node> StartStreamerAsync(IReadOnlyDictionary<string, string> settings)
    {
        var sidecar = await Backend.StartSidecarAsync(DeploymentDefaults.StreamerAppId);
        return StartStreamer(sidecar.GrpcEndpoint, sidecar.HttpEndpoint, settings) with { Sidecar = sidecar };
    }

    /// <summary>A streamer host pointed at sidecar endpoints that may not answer yet.</summary>
    public Node StartStreamer(string grpcEndpoint, string httpEndpoint, IReadOnlyDictionary<string, string> settings)
    {
        var factory = Track(new WebApplicationFactory<StreamerProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("DAPR_GRPC_ENDPOINT", grpcEndpoint);
            builder.UseSetting("DAPR_HTTP_ENDPOINT", httpEndpoint);
            builder.UseSetting("LOG_LEVEL", "Warning");
            builder.UseSetting("CSV_FILE", ReferenceCsv);
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
        }));
        var health = factory.CreateClient(); // starts the host
        health.BaseAddress = new Uri($"http://localhost:{DeploymentDefaults.StreamerHealthPort}");
        return new Node(null!, factory, factory.Services, health);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            try { await owned.DisposeAsync(); } catch (ObjectDisposedException) { }
        }
        await Backend.DisposeAsync();
    }

    private T Track<T>(T owned) where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    private static void UseSidecar(IWebHostBuilder builder, DaprSidecar sidecar)
    {
        builder.UseSetting("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint);
        builder.UseSetting("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint);
        builder.UseSetting("LOG_LEVEL", "Warning");
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TelemetryPipeline.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }

    /// <summary>One service host with its sidecar and a client to its main port.</summary>
    public sealed record Node(DaprSidecar Sidecar, IAsyncDisposable Host, IServiceProvider Services, HttpClient Client)
    {

        public StreamerStatus StreamerStatus => Services.GetRequiredService<StreamerStatus>();

        /// <summary>Stops the host gracefully (SIGTERM), then its sidecar.</summary>
        public async Task StopAsync()
        {
            await Host.DisposeAsync();
            if (Sidecar is not null) await Sidecar.DisposeAsync();
        }
    }
}

/// <summary>Reads the gateway's REST API.</summary>
public static class GatewayQueries
{
    public static async Task<List<JsonElement>> AllGpusAsync(HttpClient api)
    {
        var gpus = new List<JsonElement>();
        for (var offset = 0; ; offset += 100)
        {
            using var page = JsonDocument.Parse(await api.GetStringAsync($"/api/v1/gpus?limit=100&offset={offset}"));
            gpus.AddRange(page.RootElement.GetProperty("gpus").EnumerateArray().Select(gpu => gpu.Clone()));
            if (!page.RootElement.GetProperty("pagination").GetProperty("has_next").GetBoolean()) return gpus;
        }
    }

    public static async Task<List<JsonElement>> TelemetryAsync(HttpClient api, string uuid)
    {
        var response = await api.GetFromJsonAsync<JsonElement>($"/api/v1/gpus/{uuid}/telemetry?limit=10000");
        return [.. response.GetProperty("data").EnumerateArray()];
    }

    public static async Task WaitForSamplesAsync(HttpClient api, int expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var stored = 0;
        while (DateTime.UtcNow < deadline)
        {
            stored = (await AllGpusAsync(api)).Sum(gpu => gpu.GetProperty("samples").GetInt32());
            if (stored >= expected) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"Only {stored} of {expected} samples became queryable within {timeout}.");
    }
}
