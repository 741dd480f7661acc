using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Core.Tests.Windows;

/// <summary>Several writers on one shared store, racing on the same GPUs, must end in the reference windows.</summary>
public abstract class WindowConcurrencyContract
{
    protected abstract IKeyValueStore CreateStore();

    /// <summary>Called after the run with the raw store, for implementation-specific checks.</summary>
    protected virtual void AfterRun(IKeyValueStore store) { }

    [Theory]
    [InlineData(4, 11)]
    [InlineData(8, 29)]
    [InlineData(10, 47)] // the most collector replicas the product promises
    public async Task Concurrent_writers_end_in_the_reference_windows(int writers, int seed)
    {
        var options = new WindowOptions { MaxEntries = 50, SegmentCapacity = 16, MaxWriteAttempts = 500 };
        var raw = CreateStore();
        var tracking = new TrackingStore(raw);
        GpuIdentity[] gpus = [Gpu(1, 0), Gpu(1, 1), Gpu(2, 0)];
        var pools = gpus.Select((_, g) => Instants(0, 40, metrics: 3, gpu: g)).ToArray();
        var reference = new ReferenceWindows(options.MaxEntries);

        // Each writer gets its own overlapping, partly repeated sequence of batches over the same GPUs.
        var plans = new List<List<GpuSamples[]>>();
        var random = new Random(seed);
        for (var w = 0; w < writers; w++)
        {
            var batches = new List<GpuSamples[]>();
            for (var b = 0; b < 15; b++)
            {
                var batch = gpus.Select((gpu, g) =>
                {
                    var pool = pools[g];
                    var start = Math.Clamp(b * pool.Count / 15 + random.Next(-15, 10), 0, pool.Count - 1);
                    return new GpuSamples(gpu, [.. pool.Skip(start).Take(random.Next(1, 20))]);
                }).ToArray();
                batches.Add(batch);
                reference.Offer(batch);
            }
            plans.Add(batches);
        }

        var results = await Task.WhenAll(plans.Select((batches, w) => Task.Run(async () =>
        {
            var writer = new WindowWriter(new JitterStore(tracking, seed * 100 + w), options);
            var total = new AppendResult();
            foreach (var batch in batches) total += await writer.AppendAsync(batch);
            return total;
        })));

        var reader = new WindowReader(tracking);
        foreach (var gpu in gpus)
        {
            Assert.Equal(reference.Expected(gpu.Uuid), await ReadAllAsync(reader, gpu.Uuid));
        }
        Assert.True(results.Sum(r => r.Conflicts) > 0, "the writers never conflicted: the test did not race");
        await WindowInvariants.CheckAsync(tracking, options, gpus.Select(g => g.Uuid));
        AfterRun(raw);
    }

    [Fact]
    public async Task Writers_racing_to_create_the_same_new_gpus_list_each_once()
    {
        var options = new WindowOptions { MaxEntries = 100, SegmentCapacity = 16, MaxWriteAttempts = 500 };
        var store = CreateStore();
        var gpus = Enumerable.Range(0, 12).Select(i => Gpu(i / 4, i % 4)).ToArray();
        GpuSamples[] batch = [.. gpus.Select((gpu, g) => new GpuSamples(gpu, Instants(0, 3, metrics: 2, gpu: g)))];

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(
            () => new WindowWriter(new JitterStore(store, w), options).AppendAsync(batch))));

        Assert.Equal(gpus.Length * 6, results.Sum(r => r.Stored));
        Assert.Equal(gpus.Length * 6 * 5, results.Sum(r => r.Duplicates));
        var page = await new WindowReader(store).ListGpusAsync(new Queries.GpuListQuery());
        Assert.Equal(gpus.Length, page.Total);
        Assert.Equal(gpus.OrderBy(g => g.Hostname, StringComparer.Ordinal).ThenBy(g => g.GpuIndex), page.Gpus.Select(s => s.Gpu));
        Assert.All(page.Gpus, s => Assert.Equal(6, s.Samples));
    }
}

public sealed class MemoryWindowConcurrencyTests : WindowConcurrencyContract
{
    protected override IKeyValueStore CreateStore() => new MemoryKeyValueStore();
}

public sealed class SqliteWindowConcurrencyTests : WindowConcurrencyContract, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<SqliteKeyValueStore> _opened = [];

    protected override IKeyValueStore CreateStore()
    {
        var store = new SqliteKeyValueStore(_directory.File($"{Guid.NewGuid():N}.db"));
        _opened.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _opened) store.Dispose();
        _directory.Dispose();
    }
}

/// <summary>Dapr-Redis-like: a failed guard leaves the earlier operations of the call applied.</summary>
public sealed class NonAtomicWindowConcurrencyTests : WindowConcurrencyContract
{
    protected override IKeyValueStore CreateStore() => new NonAtomicStore(new MemoryKeyValueStore());

    protected override void AfterRun(IKeyValueStore store) =>
        Assert.True(((NonAtomicStore)store).PartialFailures > 0, "no write was ever partly applied: the test proved nothing");
}
