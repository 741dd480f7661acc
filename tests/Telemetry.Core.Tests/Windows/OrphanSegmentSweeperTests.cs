using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;
using Telemetry.Storage.Sqlite;

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

/// <summary>In Dapr mode no key listing exists, so replaced segments a writer failed to delete (it died between
/// commit and clean-up) must be found through the manifest: each lists what its commit replaced.</summary>
public sealed class ReplacedSegmentCleanUpTests
{
    [Fact]
    public async Task Segments_left_by_a_failed_clean_up_are_deleted_by_the_next_commit_of_that_gpu()
    {
        var memory = new MemoryKeyValueStore();
        var failing = new FailingDeletesStore(memory);
        var options = new WindowOptions { MaxEntries = 1_000, SegmentCapacity = 16 };
        var reader = new WindowReader(memory);
        var gpu = Gpu(1, 0);
        await new WindowWriter(memory, options).AppendAsync([new GpuSamples(gpu, Instants(0, 3, metrics: 1))]);

        // The 3-sample tail segment is folded with 4 new samples into a new one (a segment is folded into a newer one
        // at least as big); deleting the replaced one fails, as if the writer died there.
        failing.FailDeletes = true;
        await new WindowWriter(failing, options).AppendAsync([new GpuSamples(gpu, Instants(3, 7, metrics: 1))]);
        Assert.NotEmpty(await UnreferencedSegmentsAsync(memory, gpu.Uuid));
        var before = await ReadAllAsync(reader, gpu.Uuid);
        Assert.Equal(7, before.Count);

        // Any writer's next commit of that GPU removes them.
        failing.FailDeletes = false;
        await new WindowWriter(memory, options).AppendAsync([new GpuSamples(gpu, Instants(7, 15, metrics: 1))]);
        Assert.Empty(await UnreferencedSegmentsAsync(memory, gpu.Uuid));
        Assert.Equal(15, (await ReadAllAsync(reader, gpu.Uuid)).Count);
    }

    private static async Task<List<string>> UnreferencedSegmentsAsync(MemoryKeyValueStore store, string uuid)
    {
        var manifest = await store.GetAsync(WindowKeys.Manifest(uuid));
        var referenced = WindowCodec.DecodeManifest(manifest!.Value).Segments
            .Select(segment => WindowKeys.Segment(uuid, segment.Id)).ToHashSet();
        var stored = await store.ListKeysAsync(WindowKeys.Segment(uuid, ""));
        return [.. stored.Where(key => !referenced.Contains(key))];
    }

    /// <summary>Fails calls made only of deletes: the clean-up after a commit.</summary>
    private sealed class FailingDeletesStore(IKeyValueStore inner) : IKeyValueStore
    {
        public bool FailDeletes { get; set; }
        public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) => inner.GetAsync(key, cancellationToken);
        public Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
            inner.GetManyAsync(keys, cancellationToken);
        public Task<bool> PingAsync(CancellationToken cancellationToken = default) => inner.PingAsync(cancellationToken);
        public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) =>
            FailDeletes && operations.All(operation => operation is DeleteOperation)
                ? throw new IOException("store went away during clean-up")
                : inner.ExecuteAsync(operations, cancellationToken);
    }
}
