using Telemetry.Core.Storage;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Core.Tests.Storage;

public sealed class MemoryKeyValueStoreContractTests : KeyValueStoreContract
{
    protected override IKeyValueStore CreateStore(TimeProvider clock) => new MemoryKeyValueStore(clock);
}

public sealed class SqliteKeyValueStoreContractTests : KeyValueStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<SqliteKeyValueStore> _opened = [];

    protected override IKeyValueStore CreateStore(TimeProvider clock) => Open($"{Guid.NewGuid():N}.db", clock);

    private SqliteKeyValueStore Open(string name, TimeProvider? clock = null)
    {
        var store = new SqliteKeyValueStore(_directory.File(name), clock);
        _opened.Add(store);
        return store;
    }

    [Fact]
    public async Task Values_survive_closing_and_reopening_the_file()
    {
        var first = Open("durable.db");
        await first.SaveAsync("a", Bytes("kept"), WriteCondition.Any);
        await first.SaveAsync("b", Bytes("gone"), WriteCondition.Any);
        await first.DeleteAsync("b", WriteCondition.Any);
        var etag = (await first.GetAsync("a"))!.ETag;
        first.Dispose();

        var second = Open("durable.db");
        var item = await second.GetAsync("a");
        Assert.Equal("kept", Text(item));
        Assert.Equal(etag, item!.ETag);
        Assert.Null(await second.GetAsync("b"));
        await second.SaveAsync("a", Bytes("changed"), WriteCondition.Matches(etag));
        Assert.Equal("changed", Text(await second.GetAsync("a")));
    }

    [Fact]
    public async Task An_etag_of_a_deleted_key_is_not_handed_out_again_after_reopening()
    {
        var first = Open("etags.db");
        await first.SaveAsync("a", Bytes("a"), WriteCondition.Any);
        await first.SaveAsync("b", Bytes("b1"), WriteCondition.Any);
        var held = (await first.GetAsync("b"))!; // a writer keeps this ETag...
        await first.DeleteAsync("b", WriteCondition.Any); // ...while the key is deleted
        first.Dispose();

        var second = Open("etags.db");
        await second.SaveAsync("b", Bytes("b2"), WriteCondition.MustNotExist);

        Assert.NotEqual(held.ETag, (await second.GetAsync("b"))!.ETag);
        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => second.SaveAsync("b", Bytes("stale"), WriteCondition.Matches(held.ETag)));
        Assert.Equal("b2", Text(await second.GetAsync("b")));
    }

    [Fact]
    public async Task Two_stores_on_one_file_never_hand_out_the_same_etag()
    {
        var one = Open("shared.db");
        var two = Open("shared.db");
        await one.SaveAsync("k", Bytes("1"), WriteCondition.Any);
        var held = (await one.GetAsync("k"))!;

        await two.SaveAsync("k", Bytes("2"), WriteCondition.Any); // k moves on through the other store

        Assert.NotEqual(held.ETag, (await one.GetAsync("k"))!.ETag);
        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => one.SaveAsync("k", Bytes("lost update"), WriteCondition.For(held)));
        Assert.Equal("2", Text(await two.GetAsync("k")));
    }

    [Fact]
    public async Task Concurrent_reads_each_see_one_whole_write_even_across_several_statements()
    {
        // 1,200 keys read in one call take three statements; every write rewrites them all in one transaction.
        var store = Open("snapshot.db");
        var keys = Enumerable.Range(0, 1200).Select(i => $"k{i:D4}").ToArray();
        async Task WriteAllAsync(int round) =>
            await store.ExecuteAsync([.. keys.Select(key => new UpsertOperation(key, Bytes($"r{round}"), WriteCondition.Any))]);
        await WriteAllAsync(0);

        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            var reads = 0;
            while (!stop.IsCancellationRequested || reads == 0)
            {
                var items = await store.GetManyAsync(keys);
                Assert.Equal(keys.Length, items.Count);
                Assert.Single(items.Values.Select(item => Text(item)).Distinct());
                reads++;
            }
            return reads;
        })).ToArray();
        for (var round = 1; round <= 20; round++) await WriteAllAsync(round);
        await stop.CancelAsync();

        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 0));
        Assert.Equal("r20", Text(await store.GetAsync(keys[^1]))); // a read after a write sees it
    }

    [Fact]
    public async Task Reads_during_a_long_write_see_the_old_value_until_it_commits()
    {
        var store = Open("overlap.db");
        await store.SaveAsync("a", Bytes("before"), WriteCondition.Any);
        // A large write holds the write connection for a while; reads meanwhile answer from the last commit.
        var big = Enumerable.Range(0, 20_000).Select(i => new UpsertOperation($"big{i}", new byte[512], WriteCondition.Any)).ToArray();
        var writing = Task.Run(() => store.ExecuteAsync([.. big, new UpsertOperation("a", Bytes("after"), WriteCondition.Any)]));
        var seen = new List<string?>();
        while (!writing.IsCompleted) seen.Add(Text(await store.GetAsync("a")));
        await writing;

        // The old value until the commit, the new one from then on (the last reads may follow the commit).
        Assert.All(seen.SkipWhile(text => text == "before"), text => Assert.Equal("after", text));
        Assert.Equal("after", Text(await store.GetAsync("a")));
    }

    [Fact]
    public async Task Closing_after_reads_leaves_no_write_ahead_log_behind()
    {
        var path = _directory.File("closed.db");
        var store = new SqliteKeyValueStore(path);
        await store.SaveAsync("a", Bytes("a"), WriteCondition.Any);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => store.GetManyAsync(["a", "b"]))));
        store.Dispose();

        Assert.False(File.Exists(path + "-wal"));
    }

    public void Dispose()
    {
        foreach (var store in _opened) store.Dispose();
        _directory.Dispose();
    }
}
