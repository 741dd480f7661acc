using System.Net.Http.Json;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Images;
using DotNet.Testcontainers.Networks;
using Telemetry.Hosting.Deployment;
using Telemetry.Testing;

namespace Telemetry.System.Tests;

/// <summary>
/// The README's user workflow against the real images and real daprd sidecars, wired as
/// deploy/compose/docker-compose.yml wires them (each sidecar shares its app's network namespace and loads
/// deploy/compose/components): ingest the reference file, list the GPUs, query a window.
/// </summary>
public sealed class DaprStackTests : IAsyncLifetime
{
    private const string DaprVersion = "1.18.1";
    private readonly List<IContainer> _containers = [];
    private readonly List<IFutureDockerImage> _images = [];
    private INetwork? _network;
    private IContainer? _gateway;

    public async Task InitializeAsync()
    {
        if (TestcontainersSettings.OS.DockerEndpointAuthConfig is null) return;
        var root = RepositoryRoot();
        _network = new NetworkBuilder().Build();
        await _network.CreateAsync();

        await StartAsync(new ContainerBuilder("redis:7.4-alpine").WithNetwork(_network).WithNetworkAliases("redis")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilCommandIsCompleted("redis-cli", "ping")));
        await StartAsync(new ContainerBuilder($"daprio/placement:{DaprVersion}").WithNetwork(_network)
            .WithNetworkAliases("placement").WithCommand("./placement", "--port", "50005"));
        await StartAsync(new ContainerBuilder($"daprio/scheduler:{DaprVersion}").WithNetwork(_network)
            .WithNetworkAliases("scheduler").WithCommand("./scheduler", "--port", "50006", "--etcd-data-dir", "/tmp/etcd"));

        var collector = await StartAppAsync(root, "Telemetry.Collector.Dapr", "telemetry-collector", DeploymentDefaults.CollectorAppId,
            DeploymentDefaults.CollectorAppPort, DeploymentDefaults.CollectorHealthPort);
        _gateway = await StartAppAsync(root, "Telemetry.Gateway.Dapr", "api-gateway", DeploymentDefaults.GatewayAppId,
            DeploymentDefaults.GatewayPort, DeploymentDefaults.GatewayPort);
        await StartAppAsync(root, "Telemetry.Streamer.Dapr", "telemetry-streamer", DeploymentDefaults.StreamerAppId,
            appPort: null, DeploymentDefaults.StreamerHealthPort, ("RATE", "0"), ("LOOP", "false"));
        _ = collector;
    }

    [DockerFact]
    public async Task Reference_file_is_ingested_and_served_through_real_sidecars()
    {
        using var api = new HttpClient
        {
            BaseAddress = new Uri($"http://{_gateway!.Hostname}:{_gateway.GetMappedPublicPort(DeploymentDefaults.GatewayPort)}"),
        };
        // Requests fail until the gateway and its sidecar are up; the helper counts that as "not yet".
        var page = await Eventually.ValueAsync(() => api.GetFromJsonAsync<JsonElement>("/api/v1/gpus?limit=1000"),
            page => page.GetProperty("total").GetInt32() == 247
                    && page.GetProperty("gpus").EnumerateArray().All(gpu => gpu.GetProperty("samples").GetInt32() == 10),
            "all 247 GPUs listed with 10 samples each", TimeSpan.FromMinutes(3), page => $"total {page.GetProperty("total")}");
        Assert.Equal(247, page.GetProperty("total").GetInt32());
        var uuid = page.GetProperty("gpus")[0].GetProperty("uuid").GetString();
        var telemetry = await api.GetFromJsonAsync<JsonElement>($"/api/v1/gpus/{uuid}/telemetry");
        var times = telemetry.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("timestamp").GetDateTime()).ToList();
        Assert.Equal(10, times.Count);
        Assert.Equal(times.Order(), times);
    }

    public async Task DisposeAsync()
    {
        foreach (var container in Enumerable.Reverse(_containers)) await container.DisposeAsync();
        foreach (var image in _images) await image.DisposeAsync();
        if (_network is not null) await _network.DisposeAsync();
    }

    private async Task<IContainer> StartAppAsync(string root, string project, string imageName, string appId, int? appPort,
        int healthPort, params (string Name, string Value)[] environment)
    {
        var image = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(root)
            .WithDockerfile($"services/{project}/Dockerfile")
            .WithName($"{imageName}:system-test")
            .WithCleanUp(true)
            .Build();
        _images.Add(image);
        await image.CreateAsync();

        var app = new ContainerBuilder(image).WithName($"{appId}-{Guid.NewGuid():N}"[..40])
            .WithNetwork(_network!).WithNetworkAliases(appId).WithPortBinding(healthPort, true)
            .WithEnvironment("LOG_FORMAT", "json");
        foreach (var (name, value) in environment) app = app.WithEnvironment(name, value);
        var appContainer = await StartAsync(app.WithWaitStrategy(Wait.ForUnixContainer().UntilInternalTcpPortIsAvailable(healthPort)));

        var daprArguments = new List<string>
        {
            "./daprd", "-app-id", appId, "-dapr-http-port", "3500", "-dapr-grpc-port", "50001",
            "-resources-path", "/components", "-config", "/components/config.yaml",
            "-placement-host-address", "placement:50005", "-scheduler-host-address", "scheduler:50006",
        };
        if (appPort is { } port) daprArguments.AddRange(["-app-port", port.ToString()]);
        await StartAsync(new ContainerBuilder($"daprio/daprd:{DaprVersion}")
            .WithCommand([.. daprArguments])
            .WithBindMount(Path.Combine(root, "deploy", "compose", "components"), "/components")
            .WithCreateParameterModifier(parameters => parameters.HostConfig!.NetworkMode = $"container:{appContainer.Id}"));
        return appContainer;
    }

    private async Task<IContainer> StartAsync(ContainerBuilder builder)
    {
        var container = builder.Build();
        _containers.Add(container);
        await container.StartAsync();
        return container;
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TelemetryPipeline.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
