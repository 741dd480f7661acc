using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Networks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Telemetry.Testing;

namespace Telemetry.Imports.Tests;

/// <summary>
/// The import as a real Dapr Workflow: Redis, placement, scheduler and daprd in containers, the gateway in
/// this process (its workflow worker connects out to daprd's gRPC port, so daprd needs no way back in).
/// Runs wherever Docker answers; skipped with the reason elsewhere.
/// </summary>
public sealed class DaprWorkflowContainerTests : IAsyncLifetime
{
    private const string DaprVersion = "1.18.1";
    private readonly string _components = Directory.CreateTempSubdirectory("imports-components-").FullName;
    private INetwork? _network;
    private readonly List<IContainer> _containers = [];
    private IContainer? _daprd;

    public async Task InitializeAsync()
    {
        if (new DockerFactAttribute().Skip is not null) return;
        await File.WriteAllTextAsync(Path.Combine(_components, "statestore.yaml"), Component("telemetry-state", "state.redis", ("keyPrefix", "name")));
        await File.WriteAllTextAsync(Path.Combine(_components, "actorstate.yaml"), Component("telemetry-actorstate", "state.redis", ("actorStateStore", "true")));
        await File.WriteAllTextAsync(Path.Combine(_components, "pubsub.yaml"), Component("telemetry-pubsub", "pubsub.redis"));

        _network = new NetworkBuilder().Build();
        await _network.CreateAsync();
        var redis = new ContainerBuilder("redis:7-alpine").WithNetwork(_network).WithNetworkAliases("redis")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("Ready to accept connections")).Build();
        var placement = new ContainerBuilder($"daprio/placement:{DaprVersion}").WithNetwork(_network).WithNetworkAliases("placement")
            .WithCommand("./placement", "--port", "50005").Build();
        var scheduler = new ContainerBuilder($"daprio/scheduler:{DaprVersion}").WithNetwork(_network).WithNetworkAliases("scheduler")
            .WithCommand("./scheduler", "--port", "50006", "--etcd-data-dir", "/tmp/etcd").Build();
        _daprd = new ContainerBuilder($"daprio/daprd:{DaprVersion}").WithNetwork(_network)
            .WithBindMount(_components, "/components")
            .WithCommand("./daprd", "--app-id", "api-gateway", "--resources-path", "/components",
                "--placement-host-address", "placement:50005", "--scheduler-host-address", "scheduler:50006",
                "--dapr-grpc-port", "50001", "--dapr-http-port", "3500")
            .WithPortBinding(50001, true).WithPortBinding(3500, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(3500).ForPath("/v1.0/healthz/outbound")))
            .Build();
        _containers.AddRange([redis, placement, scheduler, _daprd]);
        foreach (var container in _containers) await container.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var container in Enumerable.Reverse(_containers)) await container.DisposeAsync();
        if (_network is not null) await _network.DisposeAsync();
        Directory.Delete(_components, recursive: true);
    }

    private static string Component(string name, string type, params (string Name, string Value)[] extra)
    {
        var text = new StringBuilder($"""
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: {name}
            spec:
              type: {type}
              version: v1
              metadata:
                - name: redisHost
                  value: redis:6379
            """);
        foreach (var (key, value) in extra) text.Append($"\n    - name: {key}\n      value: \"{value}\"");
        return text.Append('\n').ToString();
    }

    private sealed class Gateway(string grpc, string http) : WebApplicationFactory<GatewayProgram>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("DAPR_GRPC_ENDPOINT", grpc);
            builder.UseSetting("DAPR_HTTP_ENDPOINT", http);
            builder.UseSetting("IMPORT_CHUNK_BYTES", "16384");
        }
    }

    [DockerFact]
    public async Task A_workflow_imports_the_reference_file_with_exact_counts()
    {
        var grpc = $"http://{_daprd!.Hostname}:{_daprd.GetMappedPublicPort(50001)}";
        var http = $"http://{_daprd.Hostname}:{_daprd.GetMappedPublicPort(3500)}";
        Environment.SetEnvironmentVariable("DAPR_GRPC_ENDPOINT", grpc);
        Environment.SetEnvironmentVariable("DAPR_HTTP_ENDPOINT", http);
        await using var gateway = new Gateway(grpc, http);
        var client = gateway.CreateClient();

        var content = new StreamContent(File.OpenRead(Csv.ReferenceFile));
        content.Headers.ContentType = new("text/csv");
        var response = await client.PostAsync("/api/v1/imports", content);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        var status = await Eventually.ValueAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>(response.Headers.Location!.ToString()))!,
            status => ImportStatus.IsFinal((string)status["status"]!), "the import workflow to finish", TimeSpan.FromMinutes(3),
            status => $"status {status["status"]}");

        Assert.Equal("completed", (string)status["status"]!);
        Assert.Equal(2470, (long)status["rows_read"]!);
        Assert.Equal(2470, (long)status["samples_published"]!);
        Assert.Equal((int)status["chunks"]!, (int)status["chunks_done"]!);
    }
}
