using System.Net;
using System.Net.Sockets;
using Telemetry.Hosting.Deployment;
using Telemetry.DaprDouble;
using Telemetry.Hosting;
using Xunit.Abstractions;

namespace Telemetry.Dapr.Tests;

/// <summary>Faults injected through the sidecar double; every test ends with the reference windows exact:
/// nothing lost, nothing duplicated. Each prints "N faults injected, 0 samples lost, 0 duplicated".</summary>
public sealed class DaprFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private static readonly Dictionary<string, string> FullSpeedOnce = new() { ["RATE"] = "0", ["LOOP"] = "false", ["BATCH_SIZE"] = "50" };

    [Fact]
    public async Task State_store_down_for_a_while_answers_retry_and_loses_nothing()
    {
        await using var cluster = new DaprCluster();
        var collector = await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();

        // The store is down for the collector only, so the streamer can still claim rows and publish.
        cluster.Backend.Faults.StateUnavailableForAppId = DeploymentDefaults.CollectorAppId;
        var streamer = await cluster.StartStreamerAsync(FullSpeedOnce);
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        // Deliveries keep failing and coming back (in place, under the inbound policy) meanwhile.
        await Eventually.TrueAsync(() => collector.Sidecar.Counters.Retries >= 3, "three redeliveries while the store is down", Patience);
        cluster.Backend.Faults.StateUnavailableForAppId = null;
        await cluster.Backend.WaitForIdleAsync(Patience);

        var faults = collector.Sidecar.Counters.Retries;
        Assert.True(faults > 0, "the collector answered RETRY while the store was down");
        Assert.Equal(0, cluster.Backend.Counters.Drops + cluster.Backend.Counters.DeadLettered);
        await AssertExactAsync(gateway.Client, faults);
    }

    [Fact]
    public async Task Store_outage_outlasting_the_inbound_policy_is_stored_from_the_dead_letter_topic()
    {
        await using var cluster = new DaprCluster();
        // A short inbound policy (2 s of retries) so the outage outlasts it without the test waiting minutes.
        cluster.Backend.Resiliency = ResiliencySpec.ForComponent(DeploymentDefaults.PubSubName,
            new ComponentPolicies(null, null, RetryPolicy.Constant(TimeSpan.FromMilliseconds(100), maxRetries: 20)));
        var collector = await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var deadLettersBefore = TelemetryMetrics.DeadLetterMessages.WithLabels("success").Value;

        cluster.Backend.Faults.StateUnavailableForAppId = DeploymentDefaults.CollectorAppId;
        var streamer = await cluster.StartStreamerAsync(FullSpeedOnce);
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await Eventually.TrueAsync(() => collector.Sidecar.Counters.DeadLettered > 0, "a message given up on and dead-lettered", Patience);
        cluster.Backend.Faults.StateUnavailableForAppId = null; // the store is back while dead letters are being retried

        await cluster.Backend.WaitForIdleAsync(Patience);
        Assert.Equal(0, cluster.Backend.Counters.Drops);
        Assert.True(TelemetryMetrics.DeadLetterMessages.WithLabels("success").Value > deadLettersBefore,
            "dead letters were counted and stored");
        await AssertExactAsync(gateway.Client, collector.Sidecar.Counters.DeadLettered);
    }

    [Fact]
    public async Task Slow_state_store_only_slows_things_down()
    {
        await using var cluster = new DaprCluster();
        cluster.Backend.Faults.StateDelay = TimeSpan.FromMilliseconds(30);
        await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var streamer = await cluster.StartStreamerAsync(FullSpeedOnce);
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        cluster.Backend.Faults.StateDelay = TimeSpan.Zero;
        await AssertExactAsync(gateway.Client, faults: 0);
    }

    [Fact]
    public async Task Collector_replica_killed_mid_delivery_has_its_messages_redelivered_to_the_others()
    {
        await using var cluster = new DaprCluster();
        cluster.Backend.Faults.StateDelay = TimeSpan.FromMilliseconds(20); // keep deliveries in flight for a while
        var doomed = await cluster.StartCollectorAsync();
        var survivor = await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var streamer = await cluster.StartStreamerAsync(FullSpeedOnce);

        await Eventually.TrueAsync(() => doomed.Sidecar.Counters.Deliveries > 0, "a delivery to the doomed collector", Patience);
        await doomed.Sidecar.KillAsync();
        await doomed.StopAsync();

        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        cluster.Backend.Faults.StateDelay = TimeSpan.Zero;
        Assert.True(survivor.Sidecar.Counters.Acks > 0);
        await AssertExactAsync(gateway.Client, faults: 1);
    }

    [Fact]
    public async Task Publish_failures_are_retried_without_loss_duplication_or_reordering()
    {
        await using var cluster = new DaprCluster();
        await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var sidecar = await cluster.Backend.StartSidecarAsync(DeploymentDefaults.StreamerAppId);
        cluster.Backend.Faults.FailNextPublishes(5);
        var streamer = cluster.StartStreamer(sidecar.GrpcEndpoint, sidecar.HttpEndpoint,
            new Dictionary<string, string>(FullSpeedOnce) { ["WORKERS"] = "1" });

        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        var attempts = sidecar.Calls["PublishEvent"];
        var batches = (int)streamer.StreamerStatus.BatchesPublished;
        Assert.Equal(batches + 5, attempts);

        // One worker publishes batches in file order, so the published messages must be in file order too.
        var sources = cluster.Backend.PubSub(DeploymentDefaults.PubSubName).Messages(DeploymentDefaults.Topic)
            .Select(message => message.Data!["batch_id"]!.GetValue<string>()).ToList();
        Assert.Equal(batches, sources.Count);
        Assert.Equal(sources.OrderBy(id => long.Parse(id[(id.LastIndexOf('-') + 1)..])), sources);
        await AssertExactAsync(gateway.Client, faults: 5);
    }

    [Fact]
    public async Task Streamer_waits_for_a_sidecar_that_starts_later()
    {
        await using var cluster = new DaprCluster();
        await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var streamer = cluster.StartStreamer($"http://127.0.0.1:{grpcPort}", $"http://127.0.0.1:{httpPort}", FullSpeedOnce);

        // The streamer is up and says it is not ready: it is waiting for its sidecar, and has sent nothing.
        await Eventually.TrueAsync(async () => (await streamer.Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the streamer answering not-ready while its sidecar is absent", Patience);
        Assert.Equal(0, streamer.StreamerStatus.BatchesPublished);
        Assert.False(streamer.StreamerStatus.Finished.IsCompleted);
        await cluster.Backend.StartSidecarAsync(DeploymentDefaults.StreamerAppId, options =>
        {
            options.GrpcPort = grpcPort;
            options.HttpPort = httpPort;
        });

        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        await AssertExactAsync(gateway.Client, faults: 1);
    }

    private async Task AssertExactAsync(HttpClient api, int faults)
    {
        await GatewayQueries.WaitForSamplesAsync(api, 2470, Patience);
        var gpus = await GatewayQueries.AllGpusAsync(api);
        var stored = gpus.Sum(gpu => gpu.GetProperty("samples").GetInt32());
        Assert.Equal(247, gpus.Count);
        Assert.All(gpus, gpu => Assert.Equal(10, gpu.GetProperty("samples").GetInt32()));
        var lost = Math.Max(0, 2470 - stored);
        var duplicated = Math.Max(0, stored - 2470);
        output.WriteLine($"{faults} faults injected, {lost} samples lost, {duplicated} duplicated");
        Assert.Equal(0, lost + duplicated);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
