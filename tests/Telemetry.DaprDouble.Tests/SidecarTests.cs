using Dapr;
using Dapr.Client;
using Grpc.Core;
using Telemetry.DaprDouble;

namespace Telemetry.DaprDouble.Tests;

public sealed class SidecarTests : IAsyncLifetime
{
    private readonly DaprBackend _backend = new();

    public Task InitializeAsync()
    {
        _backend.AddStateStore("statestore", KeyPrefixMode.Name);
        _backend.AddPubSub("pubsub");
        _backend.AddPubSub("hidden", "someone-else");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task Health_checks_and_WaitForSidecar_succeed_against_the_double()
    {
        var sidecar = await _backend.StartSidecarAsync("gateway");
        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", sidecar.GrpcEndpoint);
        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", sidecar.HttpEndpoint);
        Assert.NotEqual(sidecar.GrpcEndpoint, sidecar.HttpEndpoint);

        using var client = sidecar.CreateClient();
        Assert.True(await client.CheckHealthAsync());
        Assert.True(await client.CheckOutboundHealthAsync());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.WaitForSidecarAsync(cts.Token);
    }

    [Fact]
    public async Task Health_fails_once_the_sidecar_is_killed()
    {
        var sidecar = await _backend.StartSidecarAsync("gateway");
        using var client = sidecar.CreateClient();
        await sidecar.KillAsync();
        Assert.False(await client.CheckHealthAsync());
    }

    [Fact]
    public async Task Metadata_names_the_app_and_only_the_components_in_scope()
    {
        var sidecar = await _backend.StartSidecarAsync("collector");
        using var client = sidecar.CreateClient();
        var metadata = await client.GetMetadataAsync();
        Assert.Equal("collector", metadata.Id);
        Assert.Equal(["pubsub", "statestore"], metadata.Components.Select(c => c.Name).Order());
        Assert.Equal(1, sidecar.Calls["GetMetadata"]);
    }

    [Fact]
    public async Task Api_token_is_required_when_configured()
    {
        var sidecar = await _backend.StartSidecarAsync("collector", o => o.DaprApiToken = "s3cret");
        using (var good = sidecar.CreateClient())
            await good.SaveStateAsync("statestore", "k", 1);

        using var bad = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint)
            .UseDaprApiToken("wrong").Build();
        var ex = await Assert.ThrowsAsync<DaprException>(() => bad.SaveStateAsync("statestore", "k", 2));
        Assert.Equal(StatusCode.Unauthenticated, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
    }

    [Fact]
    public async Task App_configuration_points_an_app_at_the_sidecar()
    {
        var sidecar = await _backend.StartSidecarAsync("collector");
        var config = sidecar.AppConfiguration;
        Assert.Equal(sidecar.GrpcEndpoint, config["DAPR_GRPC_ENDPOINT"]);
        Assert.Equal(sidecar.HttpEndpoint, config["DAPR_HTTP_ENDPOINT"]);
    }

    [Fact]
    public async Task Handlers_can_be_overridden_by_subclassing_the_service()
    {
        var sidecar = await _backend.StartSidecarAsync("collector", o => o.ServiceFactory = s => new NoPublishService(s));
        using var client = sidecar.CreateClient();
        var ex = await Assert.ThrowsAsync<DaprException>(() => client.PublishEventAsync("pubsub", "t", 1));
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
        await client.SaveStateAsync("statestore", "k", 1); // the rest still works
    }

    [Fact]
    public async Task Unbound_methods_answer_Unimplemented()
    {
        var sidecar = await _backend.StartSidecarAsync("collector");
        using var client = sidecar.CreateClient();
        var ex = await Assert.ThrowsAsync<DaprException>(() => client.GetSecretAsync("vault", "k"));
        Assert.Equal(StatusCode.Unimplemented, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
    }

    private sealed class NoPublishService(DaprSidecar sidecar) : DaprRuntimeService(sidecar)
    {
        public override Task<Google.Protobuf.WellKnownTypes.Empty> PublishEvent(
            Dapr.Client.Autogen.Grpc.v1.PublishEventRequest request, ServerCallContext context) =>
            throw new RpcException(new Status(StatusCode.PermissionDenied, "topic t is not allowed for app id collector"));
    }
}
