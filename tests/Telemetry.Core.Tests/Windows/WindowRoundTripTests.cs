using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

/// <summary>Through Dapr every store call is a sidecar round trip: what an append or a query costs must
/// not grow with the number of GPUs or the size of the window.</summary>
public sealed class WindowRoundTripTests
{
    private static readonly WindowOptions Options = new() { MaxEntries = 200, SegmentCapacity = 32 };

    private static GpuSamples[] Batch(IReadOnlyList<GpuIdentity> gpus, int from, int to) =>
        [.. gpus.Select((gpu, g) => new GpuSamples(gpu, Instants(from, to, metrics: 10, gpu: g)))];

    private static List<GpuIdentity> Cluster(int count) => [.. Enumerable.Range(0, count).Select(i => Gpu(i / 8, i % 8))];

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(247)]
    public async Task An_append_costs_a_constant_number_of_calls_whatever_the_gpu_count(int gpuCount)
    {
        var counting = new CountingStore(new MemoryKeyValueStore());
        var writer = new WindowWriter(counting, Options);
        var gpus = Cluster(gpuCount);

        // First sight of every GPU: manifests and directory read, segments written; then per new GPU a confirming read
        // and its own guarded creation (the one creation guard Redis honours is a single-key first-write), and the
        // same for each new directory bucket. Paid once per GPU.
        var first = await writer.AppendAsync(Batch(gpus, 0, 1));
        Assert.Equal(gpuCount * 10, first.Stored);
        var most = 4 + 2 * gpuCount + 2 * NewBuckets(gpus);
        Assert.True(counting.Total <= most, $"first append of {gpuCount} GPUs took {counting.Total} calls (at most {most})");

        // Steady state, including compaction and eviction: manifests, segments, commit, clean-up.
        for (var instant = 1; instant < 40; instant++)
        {
            counting.Reset();
            var result = await writer.AppendAsync(Batch(gpus, instant, instant + 1));
            Assert.Equal(gpuCount * 10, result.Stored);
            Assert.Equal(0, result.Conflicts);
            Assert.True(counting.Total <= 4, $"append {instant} of {gpuCount} GPUs took {counting.Total} calls");
        }

        // A redelivered batch is recognised from a read alone.
        counting.Reset();
        var repeat = await writer.AppendAsync(Batch(gpus, 39, 40));
        Assert.Equal(gpuCount * 10, repeat.Duplicates);
        Assert.Equal(0, counting.Executes);
        Assert.True(counting.Total <= 2);
    }

    [Fact]
    public async Task A_batch_mixing_new_and_known_gpus_stays_constant_too()
    {
        var counting = new CountingStore(new MemoryKeyValueStore());
        var writer = new WindowWriter(counting, Options);
        var known = Cluster(40);
        await writer.AppendAsync(Batch(known, 0, 5));
        var fresh = Enumerable.Range(0, 40).Select(i => Gpu(100 + i / 8, i % 8)).ToList();

        counting.Reset();
        await writer.AppendAsync([.. Batch(known, 5, 6), .. Batch(fresh, 0, 1)]);

        // Constant for the known GPUs, plus the first-sight cost of each new one.
        var most = 6 + 2 * fresh.Count + 2 * NewBuckets(fresh, known);
        Assert.True(counting.Total <= most, $"mixed append took {counting.Total} calls (at most {most})");
    }

    private static int NewBuckets(IEnumerable<GpuIdentity> gpus, IEnumerable<GpuIdentity>? known = null) =>
        gpus.Select(gpu => WindowKeys.BucketOf(gpu.Uuid))
            .Except((known ?? []).Select(gpu => WindowKeys.BucketOf(gpu.Uuid)))
            .Distinct().Count();

    [Fact]
    public async Task Queries_cost_at_most_three_calls()
    {
        var counting = new CountingStore(new MemoryKeyValueStore());
        var writer = new WindowWriter(counting, new WindowOptions { MaxEntries = 2000, SegmentCapacity = 32 });
        var gpus = Cluster(20);
        for (var from = 0; from < 200; from += 3) await writer.AppendAsync(Batch(gpus, from, from + 3));
        var reader = new WindowReader(counting);
        var uuid = gpus[7].Uuid;

        async Task<T> Cost<T>(Func<Task<T>> query, int most)
        {
            counting.Reset();
            var result = await query();
            Assert.True(counting.Total <= most, $"query took {counting.Total} calls");
            return result;
        }

        var all = await Cost(() => reader.QueryAsync(uuid, new TelemetryQuery(Limit: 5000)), 3);
        Assert.Equal(2000, all!.Samples.Count);
        var rare = await Cost(() => reader.QueryAsync(uuid, new TelemetryQuery(Metrics: new HashSet<string> { Metrics[3] }, Limit: 150)), 3);
        Assert.Equal(150, rare!.Samples.Count);
        var range = await Cost(() => reader.QueryAsync(uuid, new TelemetryQuery(Sample(100, 0).Timestamp, Sample(120, 9).Timestamp, Limit: 50)), 3);
        Assert.Equal(50, range!.Samples.Count);
        await Cost(() => reader.QueryAsync(uuid, new TelemetryQuery(Limit: 50, After: range.Next)), 3);
        await Cost(() => reader.GetGpuAsync(uuid), 1);
        var list = await Cost(() => reader.ListGpusAsync(new GpuListQuery(Limit: 10)), 2);
        Assert.Equal(10, list.Gpus.Count);
        await Cost(() => reader.ListHostsAsync(), 1);
    }
}
