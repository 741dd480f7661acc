using System.Text.Json;
using Telemetry.Hosting.Deployment;
using Telemetry.DaprDouble;
using Xunit.Abstractions;

namespace Telemetry.Dapr.Tests;

/// <summary>The reference file through three Dapr apps, each behind its own sidecar double.</summary>
public sealed class DaprPipelineTests(ITestOutputHelper output)
{
    private const int ReferenceGpus = 247, ReferenceSamples = 2470, MetricsPerGpu = 10;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static Dictionary<string, string> OnePass(string rate = "0") => new()
    {
        ["RATE"] = rate,
        ["LOOP"] = "false",
        ["WORKERS"] = "2",
    };

    /// <summary>One collector, the gateway and a streamer; returns once one pass of the reference file is stored.</summary>
    private static async Task<(DaprCluster.Node Collector, DaprCluster.Node Gateway, DaprCluster.Node Streamer)> StreamReferenceOnceAsync(DaprCluster cluster)
    {
        var collector = await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var streamer = await cluster.StartStreamerAsync(OnePass());
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        return (collector, gateway, streamer);
    }

    [Fact]
    public async Task Reference_file_once_gives_247_gpus_with_10_ordered_samples_each()
    {
        await using var cluster = new DaprCluster();
        var (collector, gateway, _) = await StreamReferenceOnceAsync(cluster);
        await AssertReferenceWindowsAsync(gateway.Client);
        Assert.True(collector.Sidecar.Counters.Acks > 0);
    }

    [Fact]
    public async Task Three_collectors_with_every_delivery_repeated_store_each_sample_exactly_once()
    {
        await using var cluster = new DaprCluster();
        cluster.Backend.Faults.DuplicateDeliveries = 1;
        var collectors = new List<DaprCluster.Node>();
        for (var i = 0; i < 3; i++) collectors.Add(await cluster.StartCollectorAsync());
        var gateway = await cluster.StartGatewayAsync();
        // Small batches make many messages, so all three replicas get some and write the same GPUs at once.
        var settings = OnePass();
        settings["BATCH_SIZE"] = "20";
        var streamer = await cluster.StartStreamerAsync(settings);

        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        await AssertReferenceWindowsAsync(gateway.Client);

        var published = streamer.StreamerStatus.BatchesPublished;
        var deliveries = collectors.Select(c => c.Sidecar.Counters.Deliveries).ToList();
        output.WriteLine($"{published} batches published; deliveries per collector: {string.Join(", ", deliveries)}");
        Assert.All(deliveries, count => Assert.True(count > 0, "every collector replica took part"));
        Assert.True(deliveries.Sum() >= 2 * published, "every message was delivered at least twice");
    }

    [Theory]
    [InlineData(StateStoreKind.Redis)]
    [InlineData(StateStoreKind.PostgreSql)]
    [InlineData(StateStoreKind.Sqlite)]
    public async Task Three_collectors_and_two_streamers_with_every_delivery_repeated_end_exact_under_the_shipped_policies(StateStoreKind store)
    {
        // The issue-11 scenario: dapr.yaml scaled to 3 collectors and 2 streamers, one pass at full speed, on daprd's
        // semantics for the store (Redis: no rollback, first-write ignored in transactions) with components/resiliency.yaml.
        await using var cluster = new DaprCluster(store);
        cluster.Backend.Faults.DuplicateDeliveries = 1;
        var collectors = new List<DaprCluster.Node>();
        for (var i = 0; i < 3; i++) collectors.Add(await cluster.StartCollectorAsync());
        var gateway = await cluster.StartGatewayAsync();
        var settings = OnePass();
        settings["BATCH_SIZE"] = "20"; // many messages, so the collectors write the same new GPUs at once
        var streamers = new[] { await cluster.StartStreamerAsync(settings), await cluster.StartStreamerAsync(settings) };

        await Task.WhenAll(streamers.Select(s => s.StreamerStatus.Finished)).WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        await AssertReferenceWindowsAsync(gateway.Client);

        var state = cluster.Backend.StateStore(DeploymentDefaults.StateStoreName);
        var counters = cluster.Backend.Counters;
        output.WriteLine($"{store}: writes refused by the store (collisions) {state.RefusedWrites}; deliveries {counters.Deliveries}, " +
            $"redelivered after RETRY {counters.Retries}, dead-lettered {counters.DeadLettered}, lost {counters.Drops}; " +
            $"rows per streamer {string.Join(", ", streamers.Select(s => s.StreamerStatus.RowsPublished))}");
        Assert.Equal(0, counters.DeadLettered + counters.Drops);
        Assert.Equal(ReferenceSamples, streamers.Sum(s => s.StreamerStatus.RowsPublished)); // one DCGM row is one sample
        // The shipped policy puts no breaker on the state store, so no collision can open one.
        Assert.All(collectors, c => Assert.Null(c.Sidecar.OutboundBreaker(DeploymentDefaults.StateStoreName)));
    }

    [Fact]
    public async Task Streamers_joining_and_leaving_mid_pass_send_every_row_once()
    {
        await using var cluster = new DaprCluster();
        await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var settings = new Dictionary<string, string>
        {
            ["RATE"] = "150",
            ["WORKERS"] = "1",
            ["LOOP"] = "false",
            ["BATCH_SIZE"] = "25",
            ["SHARE_CHUNK_ROWS"] = "40",
            ["SHARE_LEASE_SECONDS"] = "3",
        };
        var first = await cluster.StartStreamerAsync(settings);
        await Eventually.TrueAsync(() => first.StreamerStatus.RowsPublished > 0, "the first streamer publishing", Patience);
        var second = await cluster.StartStreamerAsync(settings);
        await Eventually.TrueAsync(() => second.StreamerStatus.RowsPublished > 0, "the second streamer publishing beside the first", Patience);
        Assert.False(first.StreamerStatus.Finished.IsCompleted, "the two streamers overlapped");
        await first.StopAsync(); // leaves mid-range: hands its remaining rows back
        var third = await cluster.StartStreamerAsync(settings);

        await Task.WhenAll(second.StreamerStatus.Finished, third.StreamerStatus.Finished).WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);
        output.WriteLine($"rows published: second {second.StreamerStatus.RowsPublished}, third {third.StreamerStatus.RowsPublished}");
        Assert.True(second.StreamerStatus.RowsPublished > 0 && third.StreamerStatus.RowsPublished > 0);
        // Each row has its own processing time, so a row sent twice would be a sample too many.
        await AssertReferenceWindowsAsync(gateway.Client);
    }

    [Fact]
    public async Task Round_trips_stay_few_per_sample_and_per_query()
    {
        await using var cluster = new DaprCluster();
        var (collector, gateway, streamer) = await StreamReferenceOnceAsync(cluster);

        var publishCalls = streamer.Sidecar.Calls["PublishEvent"] + streamer.Sidecar.Calls["BulkPublishEvent"] + streamer.Sidecar.Calls["BulkPublishEventAlpha1"];
        var samplesPerPublish = (double)streamer.StreamerStatus.SamplesPublished / publishCalls;
        var stateCalls = collector.Sidecar.Calls.Snapshot().Where(call => call.Key.Contains("State")).Sum(call => call.Value);
        output.WriteLine($"samples per publish call: {samplesPerPublish:F0} ({publishCalls} calls); collector state calls per 1,000 samples: {stateCalls * 1000.0 / ReferenceSamples:F1}");
        Assert.True(samplesPerPublish >= 100, $"{samplesPerPublish:F0} samples per publish call");

        var uuid = (await GatewayQueries.AllGpusAsync(gateway.Client))[0].GetProperty("uuid").GetString();
        var before = gateway.Sidecar.Calls.Total;
        await GatewayQueries.TelemetryAsync(gateway.Client, uuid!);
        var perQuery = gateway.Sidecar.Calls.Total - before;
        output.WriteLine($"sidecar calls for one telemetry query: {perQuery}");
        Assert.InRange(perQuery, 1, 3);
    }

    /// <summary>Workers publish what they hold when a claimed range ends. At full speed a range is therefore at least
    /// BATCH_SIZE x WORKERS rows, so messages stay full; paced, ranges stay at SHARE_CHUNK_ROWS, so replicas can share
    /// a small file. A batch wait far longer than the run leaves range ends (and the batch size) as the only flushes.</summary>
    [Theory]
    [InlineData("0", 1)] // one range of 2,500 rows holds the whole file: one message
    [InlineData("2000", 25)] // 25 ranges of 100 rows: a message each
    public async Task Claimed_ranges_hold_whole_batches_at_full_speed_and_stay_small_when_paced(string rate, int expectedPublishes)
    {
        await using var cluster = new DaprCluster();
        await cluster.StartCollectorAsync();
        var gateway = await cluster.StartGatewayAsync();
        var settings = OnePass(rate);
        settings["WORKERS"] = "1";
        settings["BATCH_SIZE"] = "2500";
        settings["BATCH_WAIT_MS"] = "60000";
        settings["SHARE_CHUNK_ROWS"] = "100";
        var streamer = await cluster.StartStreamerAsync(settings);
        await streamer.StreamerStatus.Finished.WaitAsync(Patience);
        await cluster.Backend.WaitForIdleAsync(Patience);

        Assert.Equal(expectedPublishes, streamer.Sidecar.Calls["PublishEvent"]);
        await AssertReferenceWindowsAsync(gateway.Client);
    }

    [Fact]
    public async Task Readiness_includes_the_sidecar_and_the_store()
    {
        await using var cluster = new DaprCluster();
        var gateway = await cluster.StartGatewayAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await gateway.Client.GetAsync("/health/ready")).StatusCode);
        cluster.Backend.Faults.StateUnavailable = true;
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, (await gateway.Client.GetAsync("/health/ready")).StatusCode);
        cluster.Backend.Faults.StateUnavailable = false;
        await gateway.Sidecar.KillAsync();
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, (await gateway.Client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await gateway.Client.GetAsync("/health")).StatusCode);
    }

    private async Task AssertReferenceWindowsAsync(HttpClient api)
    {
        await GatewayQueries.WaitForSamplesAsync(api, ReferenceSamples, Patience);
        var gpus = await GatewayQueries.AllGpusAsync(api);
        Assert.Equal(ReferenceGpus, gpus.Count);
        Assert.Equal(31, gpus.Select(gpu => gpu.GetProperty("hostname").GetString()).Distinct().Count());
        foreach (var gpu in gpus)
        {
            var uuid = gpu.GetProperty("uuid").GetString()!;
            var samples = await GatewayQueries.TelemetryAsync(api, uuid);
            Assert.Equal(MetricsPerGpu, samples.Count);
            Assert.Equal(MetricsPerGpu, samples.Select(s => s.GetProperty("metric_name").GetString()).Distinct().Count());
            var times = samples.Select(s => s.GetProperty("timestamp").GetDateTime()).ToList();
            Assert.Equal(times.Order().ToList(), times);
        }
        output.WriteLine($"{gpus.Count} GPUs, {gpus.Sum(g => g.GetProperty("samples").GetInt32())} samples, each GPU {MetricsPerGpu} ordered samples");
    }
}
