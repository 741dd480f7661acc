using System.Text;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Telemetry.DaprDouble;

namespace Telemetry.DaprDouble.Tests;

/// <summary>Outbound Resiliency policies on a state store, as daprd applies them (dapr pkg/resiliency/policy.go,
/// pkg/api/grpc/grpc.go ExecuteStateTransaction): the retry re-runs a whole transaction and the circuit breaker
/// counts every failed attempt, ETag conflicts included.</summary>
public sealed class ResiliencyTests : IAsyncLifetime
{
    private readonly DaprBackend _backend = new();
    private DaprSidecar _sidecar = null!;
    private DaprClient _client = null!;

    /// <summary>The state policy components/resiliency.yaml shipped before issue 11 (retry 5, breaker at 5 failures).</summary>
    private static readonly ComponentPolicies OldStatePolicy = new(
        new RetryPolicy(Exponential: true, TimeSpan.Zero, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), MaxRetries: 5),
        new BreakerPolicy(MaxRequests: 1, Interval: TimeSpan.FromSeconds(10), Timeout: TimeSpan.FromSeconds(30), TripAtConsecutiveFailures: 5),
        null);

    public async Task InitializeAsync()
    {
        _backend.AddStateStore("state");
        _sidecar = await _backend.StartSidecarAsync("collector");
        _client = _sidecar.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task With_the_old_policy_one_conflicting_transaction_opens_the_breaker_and_fails_every_state_call()
    {
        _backend.Resiliency = ResiliencySpec.ForComponent("state", OldStatePolicy);
        await _client.SaveStateAsync("state", "m", "v1");
        var (_, stale) = await _client.GetStateAndETagAsync<string>("state", "m");
        await _client.SaveStateAsync("state", "m", "v2");

        await Assert.ThrowsAsync<DaprException>(() => _client.ExecuteStateTransactionAsync("state",
        [
            new StateTransactionRequest("s1", Encoding.UTF8.GetBytes("1"), StateOperationType.Upsert),
            new StateTransactionRequest("m", Encoding.UTF8.GetBytes("\"v3\""), StateOperationType.Upsert, stale),
        ]));
        // Re-run four times, the fifth failure opened the breaker, and the fifth retry found it open.
        Assert.Equal(5, _sidecar.Calls["ExecuteStateTransaction.retry"]);
        Assert.Equal(1, _sidecar.OutboundBreaker("state")!.Openings);

        // Every state call of this sidecar now fails, reads included, until the breaker's timeout.
        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.GetStateAsync<string>("state", "m"));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.Contains("circuit breaker is open", rpc.Status.Detail);
    }

    [Fact]
    public async Task Shipped_policy_has_no_state_breaker_and_conflicts_stay_conflicts()
    {
        _backend.Resiliency = ResiliencySpec.Load(Path.Combine(Repository.Root, "components", "resiliency.yaml"));
        var state = _backend.Resiliency.Components["telemetry-state"];
        Assert.Null(state.OutboundRetry);
        Assert.Null(state.OutboundBreaker);
        var inbound = _backend.Resiliency.Components["telemetry-pubsub"].InboundRetry!;
        Assert.True(inbound.Exponential);
        Assert.Equal(30, inbound.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(10), inbound.MaxInterval);
    }

    [Fact]
    public async Task Under_the_shipped_policy_conflicting_transactions_never_open_a_breaker()
    {
        _backend.AddStateStore("telemetry-state");
        _backend.Resiliency = ResiliencySpec.Load(Path.Combine(Repository.Root, "components", "resiliency.yaml"));
        await _client.SaveStateAsync("telemetry-state", "m", "v1");
        var (_, stale) = await _client.GetStateAndETagAsync<string>("telemetry-state", "m");
        await _client.SaveStateAsync("telemetry-state", "m", "v2");

        for (var i = 0; i < 10; i++)
        {
            var ex = await Assert.ThrowsAsync<DaprException>(() => _client.ExecuteStateTransactionAsync("telemetry-state",
            [
                new StateTransactionRequest($"s{i}", Encoding.UTF8.GetBytes("1"), StateOperationType.Upsert),
                new StateTransactionRequest("m", Encoding.UTF8.GetBytes("\"v3\""), StateOperationType.Upsert, stale),
            ]));
            Assert.Contains("failed to set key", Assert.IsType<RpcException>(ex.InnerException).Status.Detail);
        }
        Assert.Equal(0, _sidecar.Calls["ExecuteStateTransaction.retry"]); // each conflict ran once
        Assert.Null(_sidecar.OutboundBreaker("telemetry-state"));
        Assert.Equal("v2", await _client.GetStateAsync<string>("telemetry-state", "m"));
    }
}

internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TelemetryPipeline.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
