using System.Text;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Tests.Storage;

/// <summary>
/// What every <see cref="IKeyValueStore"/> must do, written once. A subclass per implementation supplies the
/// store (the embedded ones here; the Dapr adapter against the sidecar double, once per state store type, in
/// Telemetry.Dapr.Tests). Where the port lets stores differ, the subclass declares which way its store goes and
/// the test checks that way.
/// </summary>
public abstract class KeyValueStoreContract
{
    /// <summary>A fresh, empty store reading time from <paramref name="clock"/>.</summary>
    protected abstract IKeyValueStore CreateStore(TimeProvider clock);

    protected IKeyValueStore CreateStore() => CreateStore(new ManualTimeProvider());

    /// <summary>True when a multi-operation <see cref="IKeyValueStore.ExecuteAsync"/> is all-or-nothing.
    /// The port does not promise it (Dapr's Redis store does not); the embedded stores do.</summary>
    protected virtual bool TransactionsAreAtomic => true;

    /// <summary>True when an ETag guard on a missing key writes it (Redis's script accepts it) instead of failing.</summary>
    protected virtual bool ETagGuardCreatesMissingKeys => false;

    /// <summary>False when a deleted and recreated key can be handed an ETag it had before (Redis: per-key versions
    /// that start again at 1).</summary>
    protected virtual bool ETagsAreNeverReused => true;

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
    public async Task ETagMatches_on_a_missing_key_fails_or_creates_it_as_the_store_declares()
    {
        var store = CreateStore();
        if (ETagGuardCreatesMissingKeys)
        {
            await store.SaveAsync("k", Bytes("x"), WriteCondition.Matches("1"));
            Assert.Equal("x", Text(await store.GetAsync("k")));
            return;
        }
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
    public async Task Delete_then_recreate_reuses_an_etag_only_where_the_store_declares_it()
    {
        var store = CreateStore();
        var handedOut = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            await store.SaveAsync("k", Bytes($"r{round}"), WriteCondition.MustNotExist);
            var item = await store.GetAsync("k");
            handedOut.Add(item!.ETag);
            await store.DeleteAsync("k", WriteCondition.For(item));
        }
        if (!ETagsAreNeverReused)
        {
            // The hazard callers must design around: every round handed out the same first version.
            Assert.Single(handedOut.Distinct());
            return;
        }
        Assert.Equal(handedOut.Count, handedOut.Distinct().Count());

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
            new UpsertOperation("n1", Bytes("1"), WriteCondition.Any),
            new UpsertOperation("n2", Bytes("2"), WriteCondition.Any),
            new DeleteOperation("old", WriteCondition.For(old)),
        ]);

        var items = await store.GetManyAsync(["n1", "n2", "old"]);
        Assert.Equal(["n1", "n2"], items.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Operations_of_one_call_run_in_order()
    {
        var store = CreateStore();
        await store.ExecuteAsync([
            new UpsertOperation("j", Bytes("1"), WriteCondition.Any),
            new DeleteOperation("j", WriteCondition.Any),
            new UpsertOperation("j", Bytes("again"), WriteCondition.Any),
            new UpsertOperation("k", Bytes("gone"), WriteCondition.Any),
            new DeleteOperation("k", WriteCondition.Any),
        ]);
        Assert.Equal("again", Text(await store.GetAsync("j")));
        Assert.Null(await store.GetAsync("k"));
    }

    [Fact]
    public async Task MustNotExist_inside_a_multi_operation_call_is_refused_before_anything_is_written()
    {
        var store = CreateStore();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.ExecuteAsync([
            new UpsertOperation("a", Bytes("1"), WriteCondition.Any),
            new UpsertOperation("b", Bytes("2"), WriteCondition.MustNotExist),
        ]));
        Assert.Contains("'b'", error.Message);
        Assert.Null(await store.GetAsync("a"));
    }

    [Fact]
    public async Task A_failed_guard_in_a_multi_operation_call_applies_nothing_or_everything_else_as_the_store_declares()
    {
        var store = CreateStore();
        await store.SaveAsync("guarded", Bytes("v1"), WriteCondition.Any);
        await store.SaveAsync("doomed", Bytes("keep me"), WriteCondition.Any);
        var stale = await store.GetAsync("guarded");
        await store.SaveAsync("guarded", Bytes("v2"), WriteCondition.Any);

        // The failure need not say it was a guard (daprd reports every failed transaction as Internal).
        await Assert.ThrowsAnyAsync<Exception>(() => store.ExecuteAsync([
            new UpsertOperation("fresh", Bytes("new"), WriteCondition.Any),
            new DeleteOperation("doomed", WriteCondition.Any),
            new UpsertOperation("guarded", Bytes("v3"), WriteCondition.For(stale)),
            new UpsertOperation("after", Bytes("applied"), WriteCondition.Any),
        ]));

        Assert.Equal("v2", Text(await store.GetAsync("guarded")));
        if (TransactionsAreAtomic)
        {
            Assert.Null(await store.GetAsync("fresh"));
            Assert.Null(await store.GetAsync("after"));
            Assert.Equal("keep me", Text(await store.GetAsync("doomed")));
        }
        else
        {
            // Redis MULTI/EXEC: every other operation ran, before and after the failed one.
            Assert.Equal("new", Text(await store.GetAsync("fresh")));
            Assert.Equal("applied", Text(await store.GetAsync("after")));
            Assert.Null(await store.GetAsync("doomed"));
        }
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

        if (!ETagGuardCreatesMissingKeys)
        {
            await Assert.ThrowsAsync<ConcurrencyConflictException>(
                () => store.SaveAsync("k", Bytes("x"), WriteCondition.Matches(before!.ETag)));
        }
        await store.SaveAsync("k", Bytes("new"), WriteCondition.MustNotExist);

        clock.Advance(TimeSpan.FromDays(1));
        var item = await store.GetAsync("k");
        Assert.Equal("new", Text(item)); // saved without a TTL: it no longer expires
        if (ETagsAreNeverReused) Assert.NotEqual(before!.ETag, item!.ETag);
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
