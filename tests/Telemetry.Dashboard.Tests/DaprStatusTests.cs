using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Telemetry.Hosting.Deployment;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.DaprDouble;

namespace Telemetry.Dashboard.Tests;

/// <summary>
/// Dapr mode, where services share nothing but the state store: two collectors and a gateway, each behind its
/// own sidecar test double (the real DaprClient talking Dapr's runtime protocol), report heartbeats that the
/// gateway's /api/v1/status reads back.
/// </summary>
public sealed class DaprStatusTests : IAsyncLifetime
{
    private readonly DaprBackend _backend = new();
    private readonly List<IAsyncDisposable> _hosts = [];

    public Task InitializeAsync()
    {
        _backend.AddStateStore(new StateStoreOptions
        {
            Name = DeploymentDefaults.StateStoreName,
            KeyPrefix = KeyPrefixMode.Name,
            Scopes = [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId, DeploymentDefaults.GatewayAppId],
        });
        _backend.AddPubSub(DeploymentDefaults.PubSubName, DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            try { await host.DisposeAsync(); } catch (ObjectDisposedException) { }
        }
        await _backend.DisposeAsync();
    }

    private async Task<(DaprSidecar Sidecar, WebApplicationFactory<T> Host, HttpClient Client)> StartAsync<T>(string appId, int port, string heartbeatSeconds)
        where T : class
    {
        var sidecar = await _backend.StartSidecarAsync(appId);
        var factory = new WebApplicationFactory<T>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint);
            builder.UseSetting("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint);
            builder.UseSetting("LOG_LEVEL", "Warning");
            builder.UseSetting("HEARTBEAT_SECONDS", heartbeatSeconds);
        });
        _hosts.Add(factory);
        _hosts.Add(sidecar);
        var client = factory.CreateClient(); // starts the host
        client.BaseAddress = new Uri($"http://localhost:{port}");
        return (sidecar, factory, client);
    }

    [Fact]
    public async Task Status_lists_every_replica_from_its_heartbeat_and_marks_a_stopped_one_stale()
    {
        // One collector and one gateway (in one test process all hosts share the machine name and process id
        // that make an instance id, so two replicas of one service would be one entry here; in a deployment each
        // runs in its own container or pod).
        await StartAsync<CollectorProgram>(DeploymentDefaults.CollectorAppId, DeploymentDefaults.CollectorAppPort, "1");
        var gateway = await StartAsync<GatewayProgram>(DeploymentDefaults.GatewayAppId, DeploymentDefaults.GatewayPort, "1");

        JsonNode status = null!;
        await Eventually.HoldsAsync(async () =>
        {
            status = await gateway.Client.GetFromJsonNodeAsync("/api/v1/status");
            var services = status["instances"]!.AsArray().Select(i => (string)i!["service"]!).ToList();
            return services.Contains("collector") && services.Contains("gateway");
        }, TimeSpan.FromSeconds(20), "heartbeats of the collectors and the gateway");
        Assert.Equal("dapr", (string)status["mode"]!);
        Assert.All(status["instances"]!.AsArray(), i => Assert.Equal("live", (string)i!["state"]!));
        Assert.All(status["instances"]!.AsArray(), i => Assert.True((bool)i!["store_healthy"]!));

        // The collector stops: with no heartbeat for three intervals its entry turns stale, but stays listed.
        foreach (var host in _hosts.OfType<WebApplicationFactory<CollectorProgram>>().ToList()) await host.DisposeAsync();
        await Eventually.HoldsAsync(async () =>
        {
            status = await gateway.Client.GetFromJsonNodeAsync("/api/v1/status");
            return status["instances"]!.AsArray().Where(i => (string)i!["service"]! == "collector").All(i => (string)i!["state"]! == "stale");
        }, TimeSpan.FromSeconds(20), "the stopped collectors to show as stale");
        Assert.Equal("live", (string)status["instances"]!.AsArray().Single(i => (string)i!["service"]! == "gateway")!["state"]!);
    }

    [Fact]
    public async Task The_fleet_pages_data_costs_three_state_store_round_trips()
    {
        // Heartbeats far apart, so none lands inside the measured requests.
        var gateway = await StartAsync<GatewayProgram>(DeploymentDefaults.GatewayAppId, DeploymentDefaults.GatewayPort, "300");
        // 1,000 GPUs, written through the gateway's own Dapr store as a collector writes them.
        var writer = new WindowWriter(gateway.Host.Services.GetRequiredService<IKeyValueStore>(), new WindowOptions());
        var now = DateTime.UtcNow;
        foreach (var chunk in Enumerable.Range(0, 1000).Chunk(100))
        {
            await writer.AppendAsync([.. chunk.Select(g => new GpuSamples(
                new GpuIdentity($"GPU-fleet-{g:D4}", $"host-{g / 8:D3}", g % 8, $"nvidia{g % 8}", "NVIDIA H100 80GB HBM3"),
                [new MetricSample(now, "DCGM_FI_DEV_GPU_UTIL", g % 100, null)]))]);
        }
        var listed = await gateway.Client.GetFromJsonNodeAsync("/api/v1/gpus?limit=1000");
        Assert.Equal(1000, listed["gpus"]!.AsArray().Count);

        var before = StateCalls(gateway.Sidecar);
        (await gateway.Client.GetAsync("/api/v1/gpus?limit=1000")).EnsureSuccessStatusCode();
        (await gateway.Client.GetAsync("/api/v1/status")).EnsureSuccessStatusCode();
        var calls = StateCalls(gateway.Sidecar) - before;
        Assert.Equal(3, calls); // directory buckets, the page's manifests (holding the latest values), heartbeats
    }

    private static int StateCalls(DaprSidecar sidecar) =>
        sidecar.Calls.Snapshot().Where(call => call.Key.Contains("State", StringComparison.Ordinal)).Sum(call => call.Value);
}
