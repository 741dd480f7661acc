using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

public sealed class OrphanSegmentSweeperTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sweep").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Stores => ["memory", "sqlite"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Removes_only_segments_no_manifest_names(string kind)
    {
        IKeyValueStore store = kind == "memory" ? new MemoryKeyValueStore() : new SqliteKeyValueStore(Path.Combine(_directory, "t.db"));
        var writer = new WindowWriter(store, new WindowOptions { MaxEntries = 50, SegmentCapacity = 16 });
        var reader = new WindowReader(store);
        for (var i = 0; i < 10; i++) await writer.AppendAsync([new GpuSamples(Gpu(1, 0), Instants(i * 3, i * 3 + 2))]);
        var before = await ReadAllAsync(reader, Gpu(1, 0).Uuid);
        var listing = (IKeyListing)store;
        var liveSegments = (await listing.ListKeysAsync("gpu|")).Count(key => key.Contains("|s|"));

        // What a crash leaves: a segment of a known GPU never committed, and one of a GPU with no manifest.
        await store.SaveAsync(WindowKeys.Segment(Gpu(1, 0).Uuid, "ff-dead"), [1, 2, 3], WriteCondition.Any);
        await store.SaveAsync(WindowKeys.Segment("GPU-gone", "1-dead"), [1], WriteCondition.Any);

        Assert.Equal(2, await OrphanSegmentSweeper.SweepAsync(store));
        Assert.Equal(liveSegments, (await listing.ListKeysAsync("gpu|")).Count(key => key.Contains("|s|")));
        Assert.Equal(before, await ReadAllAsync(reader, Gpu(1, 0).Uuid));
        Assert.Equal(0, await OrphanSegmentSweeper.SweepAsync(store));
        (store as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task Listing_by_prefix_returns_exactly_the_keys_under_it()
    {
        using var sqlite = new SqliteKeyValueStore(Path.Combine(_directory, "l.db"));
        foreach (var key in new[] { "gpu|a", "gpu|b|s|1", "gpus|00", "gpt", "gpu%|x", "gpu_" }) await sqlite.SaveAsync(key, [0], WriteCondition.Any);
        Assert.Equal(["gpu|a", "gpu|b|s|1"], await sqlite.ListKeysAsync("gpu|"));
        var memory = new MemoryKeyValueStore();
        foreach (var key in new[] { "gpu|a", "gpus|00" }) await memory.SaveAsync(key, [0], WriteCondition.Any);
        Assert.Equal(["gpu|a"], await memory.ListKeysAsync("gpu|"));
    }
}
