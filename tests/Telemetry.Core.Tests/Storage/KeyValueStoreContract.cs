using System.Text;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Tests.Storage;

/// <summary>
/// What every <see cref="IKeyValueStore"/> must do, written once. A subclass per implementation supplies the
/// store; a Dapr adapter gets the same suite by adding one more subclass.
/// </summary>
public abstract class KeyValueStoreContract
{
    /// <summary>A fresh, empty store reading time from <paramref name="clock"/>.</summary>
    protected abstract IKeyValueStore CreateStore(TimeProvider clock);

    protected IKeyValueStore CreateStore() => CreateStore(new ManualTimeProvider());

    /// <summary>True when a multi-operation <see cref="IKeyValueStore.ExecuteAsync"/> is all-or-nothing.
    /// The port does not promise it (Dapr's Redis store does not); the embedded stores do.</summary>
    protected virtual bool TransactionsAreAtomic => true;

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static string Text(StoredItem? item) => item is null ? "<missing>" : Encoding.UTF8.GetString(item.Value);

    [Fact]
    public async Task Get_of_a_missing_key_is_null()
    {
        var store = CreateStore();
        Assert.Null(await store.GetAsync("nothing-here"));
    }

    [Fact]
    public async Task Saved_value_reads_back_with_an_etag()
    {
        var store = CreateStore();
        await store.SaveAsync("a", Bytes("hello"), WriteCondition.Any);

        var item = await store.GetAsync("a");

        Assert.NotNull(item);
        Assert.Equal("a", item.Key);
        Assert.Equal("hello", Text(item));
        Assert.False(string.IsNullOrEmpty(item.ETag));
    }

    [Fact]
    public async Task Binary_values_round_trip_byte_for_byte()
    {
        var store = CreateStore();
        var value = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await store.SaveAsync("bin", value, WriteCondition.Any);
        Assert.Equal(value, (await store.GetAsync("bin"))!.Value);
    }

    [Fact]
    public async Task Stored_value_is_not_aliased_to_the_callers_array()
    {
        var store = CreateStore();
        var value = Bytes("abc");
        await store.SaveAsync("k", value, WriteCondition.Any);
        value[0] = (byte)'X';

        var first = await store.GetAsync("k");
        Assert.Equal("abc", Text(first));
        first!.Value[1] = (byte)'Y';
        Assert.Equal("abc", Text(await store.GetAsync("k")));
    }

    [Fact]
    public async Task Every_write_changes_the_etag()
    {
        var store = CreateStore();
        var seen = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            await store.SaveAsync("k", Bytes($"v{i}"), WriteCondition.Any);
            var item = await store.GetAsync("k");
            Assert.Equal($"v{i}", Text(item));
            Assert.True(seen.Add(item!.ETag), $"ETag {item.ETag} was handed out twice");
        }
        // Writing the very same bytes is still a new version.
        await store.SaveAsync("k", Bytes("v4"), WriteCondition.Any);
        Assert.DoesNotContain((await store.GetAsync("k"))!.ETag, seen);
    }

    [Fact]
    public async Task MustNotExist_succeeds_on_absence_and_fails_when_present()
    {
        var store = CreateStore();
        await store.SaveAsync("k", Bytes("first"), WriteCondition.MustNotExist);

        var conflict = await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => store.SaveAsync("k", Bytes("second"), WriteCondition.MustNotExist));

        Assert.Equal("k", conflict.Key);
        Assert.Equal("first", Text(await store.GetAsync("k")));
    }

    [Fact]
    public async Task ETagMatches_with_the_current_etag_succeeds()
    {
        var store = CreateStore();
        await store.SaveAsync("k", Bytes("1"), WriteCondition.Any);
        var read = await store.GetAsync("k");

        await store.SaveAsync("k", Bytes("2"), WriteCondition.For(read));

        Assert.Equal("2", Text(await store.GetAsync("k")));
    }

    [Fact]
    public async Task ETagMatches_with_a_stale_etag_throws_and_leaves_the_value()
    {
        var store = CreateStore();
        await store.SaveAsync("k", Bytes("1"), WriteCondition.Any);
        var stale = await store.GetAsync("k");
        await store.SaveAsync("k", Bytes("2"), WriteCondition.For(stale));
        var current = await store.GetAsync("k");

        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => store.SaveAsync("k", Bytes("3"), WriteCondition.Matches(stale!.ETag)));

        var after = await store.GetAsync("k");
        Assert.Equal("2", Text(after));
        Assert.Equal(current!.ETag, after!.ETag);
    }

    [Fact]
    public async Task ETagMatches_on_a_missing_key_throws_and_creates_nothing()
    {
        var store = CreateStore();
        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => store.SaveAsync("k", Bytes("x"), WriteCondition.Matches("1")));
        Assert.Null(await store.GetAsync("k"));
    }

    [Fact]
    public async Task Delete_with_the_current_etag_removes_and_a_stale_one_is_refused()
    {
        var store = CreateStore();
        await store.SaveAsync("k", Bytes("1"), WriteCondition.Any);
        var stale = await store.GetAsync("k");
        await store.SaveAsync("k", Bytes("2"), WriteCondition.Any);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => store.DeleteAsync("k", WriteCondition.Matches(stale!.ETag)));
        Assert.Equal("2", Text(await store.GetAsync("k")));

        await store.DeleteAsync("k", WriteCondition.For(await store.GetAsync("k")));
        Assert.Null(await store.GetAsync("k"));
    }

    [Fact]
    public async Task Unguarded_delete_of_a_missing_key_is_fine()
    {
        var store = CreateStore();
        await store.DeleteAsync("never-was", WriteCondition.Any);
        Assert.Null(await store.GetAsync("never-was"));
    }

    [Fact]
    public async Task Delete_then_recreate_never_reuses_an_etag()
    {
        var store = CreateStore();
        var handedOut = new HashSet<string>();
        for (var round = 0; round < 3; round++)
        {
            await store.SaveAsync("k", Bytes($"r{round}"), WriteCondition.MustNotExist);
            var item = await store.GetAsync("k");
            Assert.True(handedOut.Add(item!.ETag), $"round {round} reused ETag {item.ETag}");
            await store.DeleteAsync("k", WriteCondition.For(item));
        }

        await store.SaveAsync("k", Bytes("last"), WriteCondition.Any);
        foreach (var old in handedOut)
        {
            await Assert.ThrowsAsync<ConcurrencyConflictException>(
                () => store.SaveAsync("k", Bytes("stale writer"), WriteCondition.Matches(old)));
        }
        Assert.Equal("last", Text(await store.GetAsync("k")));
    }

    [Fact]
    public async Task GetMany_returns_only_existing_keys()
    {
        var store = CreateStore();
        await store.SaveAsync("a", Bytes("A"), WriteCondition.Any);
        await store.SaveAsync("c", Bytes("C"), WriteCondition.Any);

        var items = await store.GetManyAsync(["a", "b", "c", "d"]);

        Assert.Equal(["a", "c"], items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("A", Text(items["a"]));
        Assert.Equal("C", Text(items["c"]));
        Assert.Equal((await store.GetAsync("a"))!.ETag, items["a"].ETag);
        Assert.Empty(await store.GetManyAsync([]));
    }

    [Fact]
    public async Task GetMany_handles_more_keys_than_one_query_takes()
    {
        var store = CreateStore();
        var writes = Enumerable.Range(0, 1200)
            .Where(i => i % 3 != 0)
            .Select(i => (StateOperation)new UpsertOperation($"k{i}", Bytes($"{i}"), WriteCondition.Any))
            .ToList();
        await store.ExecuteAsync(writes);

        var items = await store.GetManyAsync([.. Enumerable.Range(0, 1200).Select(i => $"k{i}")]);

        Assert.Equal(800, items.Count);
        Assert.All(items, pair => Assert.Equal(pair.Key, "k" + Text(pair.Value)));
    }

    [Fact]
    public async Task Execute_applies_upserts_and_deletes_together()
    {
        var store = CreateStore();
        await store.SaveAsync("old", Bytes("x"), WriteCondition.Any);
        var old = await store.GetAsync("old");

        await store.ExecuteAsync([
            new UpsertOperation("n1", Bytes("1"), WriteCondition.MustNotExist),
            new UpsertOperation("n2", Bytes("2"), WriteCondition.Any),
            new DeleteOperation("old", WriteCondition.For(old)),
        ]);

        var items = await store.GetManyAsync(["n1", "n2", "old"]);
        Assert.Equal(["n1", "n2"], items.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Operations_of_one_call_see_the_effect_of_earlier_ones()
    {
        var store = CreateStore();
        // The second create of the same key must find the first one: a call is a sequence, not a set.
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => store.ExecuteAsync([
            new UpsertOperation("k", Bytes("1"), WriteCondition.MustNotExist),
            new UpsertOperation("k", Bytes("2"), WriteCondition.MustNotExist),
        ]));

        await store.ExecuteAsync([
            new UpsertOperation("j", Bytes("1"), WriteCondition.Any),
            new DeleteOperation("j", WriteCondition.Any),
            new UpsertOperation("j", Bytes("again"), WriteCondition.MustNotExist),
        ]);
        Assert.Equal("again", Text(await store.GetAsync("j")));
    }

    [Fact]
    public async Task A_failed_guard_in_a_multi_operation_call_applies_nothing_on_atomic_stores()
    {
        if (!TransactionsAreAtomic) return;
        var store = CreateStore();
        await store.SaveAsync("guarded", Bytes("v1"), WriteCondition.Any);
        await store.SaveAsync("doomed", Bytes("keep me"), WriteCondition.Any);
        var stale = await store.GetAsync("guarded");
        await store.SaveAsync("guarded", Bytes("v2"), WriteCondition.Any);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => store.ExecuteAsync([
            new UpsertOperation("fresh", Bytes("new"), WriteCondition.Any),
            new DeleteOperation("doomed", WriteCondition.Any),
            new UpsertOperation("guarded", Bytes("v3"), WriteCondition.For(stale)),
            new UpsertOperation("after", Bytes("never"), WriteCondition.Any),
        ]));

        Assert.Null(await store.GetAsync("fresh"));
        Assert.Null(await store.GetAsync("after"));
        Assert.Equal("keep me", Text(await store.GetAsync("doomed")));
        Assert.Equal("v2", Text(await store.GetAsync("guarded")));
    }

    [Fact]
    public async Task Value_with_a_time_to_live_disappears_when_it_expires()
    {
        var clock = new ManualTimeProvider();
        var store = CreateStore(clock);
        await store.SaveAsync("short", Bytes("s"), WriteCondition.Any, TimeSpan.FromSeconds(10));
        await store.SaveAsync("forever", Bytes("f"), WriteCondition.Any);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("s", Text(await store.GetAsync("short")));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(await store.GetAsync("short"));
        Assert.Equal(["forever"], (await store.GetManyAsync(["short", "forever"])).Keys);
        Assert.Equal("f", Text(await store.GetAsync("forever")));
    }

    [Fact]
    public async Task An_expired_key_counts_as_absent_for_guards()
    {
        var clock = new ManualTimeProvider();
        var store = CreateStore(clock);
        await store.SaveAsync("k", Bytes("old"), WriteCondition.Any, TimeSpan.FromSeconds(5));
        var before = await store.GetAsync("k");
        clock.Advance(TimeSpan.FromSeconds(6));

        await Assert.ThrowsAsync<ConcurrencyConflictException>(
            () => store.SaveAsync("k", Bytes("x"), WriteCondition.Matches(before!.ETag)));
        await store.SaveAsync("k", Bytes("new"), WriteCondition.MustNotExist);

        clock.Advance(TimeSpan.FromDays(1));
        var item = await store.GetAsync("k");
        Assert.Equal("new", Text(item)); // saved without a TTL: it no longer expires
        Assert.NotEqual(before!.ETag, item!.ETag);
    }

    [Fact]
    public async Task Rewriting_without_a_ttl_removes_the_old_ttl()
    {
        var clock = new ManualTimeProvider();
        var store = CreateStore(clock);
        await store.SaveAsync("k", Bytes("1"), WriteCondition.Any, TimeSpan.FromSeconds(5));
        await store.SaveAsync("k", Bytes("2"), WriteCondition.Any);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("2", Text(await store.GetAsync("k")));
    }

    [Fact]
    public async Task Ping_answers()
    {
        Assert.True(await CreateStore().PingAsync());
    }
}
