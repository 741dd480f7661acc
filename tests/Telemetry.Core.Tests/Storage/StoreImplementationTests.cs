using Telemetry.Core.Storage;

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

    public void Dispose()
    {
        foreach (var store in _opened) store.Dispose();
        _directory.Dispose();
    }
}
