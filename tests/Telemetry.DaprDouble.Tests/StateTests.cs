using System.Text;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Telemetry.DaprDouble;

namespace Telemetry.DaprDouble.Tests;

public sealed class StateTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new();
    private readonly DaprBackend _backend;
    private DaprSidecar _collector = null!;
    private DaprClient _client = null!;

    public StateTests()
    {
        _backend = new DaprBackend(_clock);
        _backend.AddStateStore("statestore");
    }

    public async Task InitializeAsync()
    {
        _collector = await _backend.StartSidecarAsync("collector");
        _client = _collector.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Save_then_get_round_trips_with_an_etag_that_changes_on_every_write()
    {
        await _client.SaveStateAsync("statestore", "k", new Sample("a", 1));
        var (value, etag1) = await _client.GetStateAndETagAsync<Sample>("statestore", "k");
        Assert.Equal(new Sample("a", 1), value);
        Assert.False(string.IsNullOrEmpty(etag1));

        Assert.True(await _client.TrySaveStateAsync("statestore", "k", new Sample("b", 2), etag1));
        var (value2, etag2) = await _client.GetStateAndETagAsync<Sample>("statestore", "k");
        Assert.Equal(new Sample("b", 2), value2);
        Assert.NotEqual(etag1, etag2);

        Assert.Equal(2, _collector.Calls["SaveState"]);
        Assert.Equal(2, _collector.Calls["GetState"]);
        Assert.Equal(0, _collector.Calls["ExecuteStateTransaction"]);
    }

    [Fact]
    public async Task Missing_key_reads_as_default_with_empty_etag()
    {
        var (value, etag) = await _client.GetStateAndETagAsync<Sample>("statestore", "nope");
        Assert.Null(value);
        Assert.Equal("", etag);
    }

    [Fact]
    public async Task Stale_etag_is_Aborted_Try_methods_return_false_others_throw_DaprException()
    {
        await _client.SaveByteStateAsync("statestore", "k", Encoding.UTF8.GetBytes("v1"));
        var (_, etag) = await _client.GetByteStateAndETagAsync("statestore", "k");
        await _client.SaveByteStateAsync("statestore", "k", Encoding.UTF8.GetBytes("v2")); // etag moves on

        Assert.False(await _client.TrySaveByteStateAsync("statestore", "k", Encoding.UTF8.GetBytes("v3"), etag));
        Assert.False(await _client.TryDeleteStateAsync("statestore", "k", etag));

        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.SaveBulkStateAsync("statestore",
            [new SaveStateItem<string>("k", "v3", etag)]));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.Aborted, rpc.StatusCode);

        Assert.Equal("v2", _backend.StateStore("statestore").Entries["collector||k"].ValueAsString);
    }

    // Redis semantics (components-contrib state/redis/redis.go: setDefaultQuery, Set, Multi, parseETag).

    [Fact]
    public async Task Redis_first_write_refuses_only_a_value_itself_written_with_first_write_and_as_Internal()
    {
        var firstWrite = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        // A value written without first-write is silently overwritten by a first-write save.
        await _client.SaveStateAsync("statestore", "plain", 1);
        await _client.SaveStateAsync("statestore", "plain", 2, firstWrite);
        Assert.Equal(2, await _client.GetStateAsync<int>("statestore", "plain"));

        // A value written with first-write refuses the next one, as a plain store error, not an ETag mismatch.
        await _client.SaveStateAsync("statestore", "guarded", 1, firstWrite);
        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.SaveStateAsync("statestore", "guarded", 2, firstWrite));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.Contains("failed to set key collector||guarded", rpc.Status.Detail);
        Assert.DoesNotContain("etag", rpc.Status.Detail, StringComparison.OrdinalIgnoreCase);

        // ... and from then on even a last-write save without an ETag (the first-write field stays on the key).
        await Assert.ThrowsAsync<DaprException>(() => _client.SaveStateAsync("statestore", "guarded", 3));
        Assert.Equal(1, await _client.GetStateAsync<int>("statestore", "guarded"));
    }

    [Fact]
    public async Task Redis_etag_on_a_missing_key_passes_save_creates_and_delete_succeeds()
    {
        Assert.True(await _client.TrySaveStateAsync("statestore", "ghost", 1, "7"));
        Assert.Equal(1, await _client.GetStateAsync<int>("statestore", "ghost"));
        Assert.True(await _client.TryDeleteStateAsync("statestore", "never", "3"));
    }

    [Fact]
    public async Task Redis_etags_are_per_key_versions_that_restart_after_a_delete()
    {
        await _client.SaveStateAsync("statestore", "a", 1);
        await _client.SaveStateAsync("statestore", "a", 2);
        await _client.SaveStateAsync("statestore", "b", 1);
        Assert.Equal("2", (await _client.GetStateAndETagAsync<int>("statestore", "a")).etag);
        Assert.Equal("1", (await _client.GetStateAndETagAsync<int>("statestore", "b")).etag);
        await _client.DeleteStateAsync("statestore", "a");
        await _client.SaveStateAsync("statestore", "a", 3);
        Assert.Equal("1", (await _client.GetStateAndETagAsync<int>("statestore", "a")).etag);
    }

    [Fact]
    public async Task Redis_transaction_failure_is_Internal_without_etag_wording_and_applies_every_other_operation()
    {
        await _client.SaveStateAsync("statestore", "m", "v1");
        var (_, etag) = await _client.GetStateAndETagAsync<string>("statestore", "m");
        await _client.SaveStateAsync("statestore", "m", "v2");
        await _client.SaveStateAsync("statestore", "old", "o");

        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.ExecuteStateTransactionAsync("statestore",
        [
            new StateTransactionRequest("s1", Encoding.UTF8.GetBytes("\"seg\""), StateOperationType.Upsert),
            new StateTransactionRequest("m", Encoding.UTF8.GetBytes("\"v3\""), StateOperationType.Upsert, etag),
            new StateTransactionRequest("old", null, StateOperationType.Delete),
        ]));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.StartsWith("error while executing state transaction: ", rpc.Status.Detail);
        Assert.Contains("failed to set key collector||m", rpc.Status.Detail);
        Assert.DoesNotContain("etag", rpc.Status.Detail, StringComparison.OrdinalIgnoreCase);
        // No rollback: the operations before and after the failed one ran.
        Assert.Equal("seg", await _client.GetStateAsync<string>("statestore", "s1"));
        Assert.Null(await _client.GetStateAsync<string>("statestore", "old"));
        Assert.Equal("v2", await _client.GetStateAsync<string>("statestore", "m"));
    }

    [Fact]
    public async Task Redis_transaction_ignores_first_write_so_two_creators_both_succeed()
    {
        var firstWrite = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        foreach (var value in new[] { "first", "second" })
        {
            await _client.ExecuteStateTransactionAsync("statestore",
            [
                new StateTransactionRequest("manifest", Encoding.UTF8.GetBytes($"\"{value}\""), StateOperationType.Upsert, options: firstWrite),
                new StateTransactionRequest($"segment-{value}", Encoding.UTF8.GetBytes("1"), StateOperationType.Upsert),
            ]);
        }
        Assert.Equal("second", await _client.GetStateAsync<string>("statestore", "manifest"));
    }

    [Fact]
    public async Task Bulk_get_reports_a_failed_key_inside_its_item_and_succeeds_while_a_single_get_fails()
    {
        await _client.SaveStateAsync("statestore", "ok", "fine");
        await _client.SaveStateAsync("statestore", "broken", "unreadable");
        _backend.StateStore("statestore").FailingReads.Add("collector||broken");

        // The .NET SDK drops the item's error: the key looks missing.
        var items = await _client.GetBulkStateAsync("statestore", ["ok", "broken"], parallelism: null);
        Assert.Equal("\"fine\"", items.Single(i => i.Key == "ok").Value);
        Assert.Equal("", items.Single(i => i.Key == "broken").Value);

        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.GetStateAsync<string>("statestore", "broken"));
        Assert.Equal(StatusCode.Internal, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
    }

    [Fact]
    public async Task Bulk_get_returns_an_item_for_every_key_missing_ones_empty()
    {
        await _client.SaveStateAsync("statestore", "a", "A");
        var items = await _client.GetBulkStateAsync("statestore", ["a", "missing"], parallelism: null);
        Assert.Equal(2, items.Count);
        var a = items.Single(i => i.Key == "a");
        Assert.Equal("\"A\"", a.Value);
        Assert.NotEqual("", a.ETag);
        var missing = items.Single(i => i.Key == "missing");
        Assert.Equal("", missing.Value);
        Assert.Equal("", missing.ETag);
        Assert.Equal(1, _collector.Calls["GetBulkState"]);
    }

    [Fact]
    public async Task Ttl_expires_entries()
    {
        await _client.SaveStateAsync("statestore", "short", "x", metadata: new Dictionary<string, string> { ["ttlInSeconds"] = "10" });
        await _client.SaveStateAsync("statestore", "forever", "y");
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("x", await _client.GetStateAsync<string>("statestore", "short"));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(await _client.GetStateAsync<string>("statestore", "short"));
        Assert.Equal("y", await _client.GetStateAsync<string>("statestore", "forever"));
    }

    [Fact]
    public async Task Transaction_applies_upserts_and_deletes_together()
    {
        await _client.SaveStateAsync("statestore", "old", "o");
        await _client.ExecuteStateTransactionAsync("statestore",
        [
            new StateTransactionRequest("m", Encoding.UTF8.GetBytes("\"manifest\""), StateOperationType.Upsert),
            new StateTransactionRequest("s1", Encoding.UTF8.GetBytes("\"segment\""), StateOperationType.Upsert),
            new StateTransactionRequest("old", null, StateOperationType.Delete),
        ]);
        Assert.Equal(["collector||m", "collector||s1"], _backend.StateStore("statestore").Entries.Keys.Order());
        Assert.Equal(1, _collector.Calls["ExecuteStateTransaction"]);
    }

    // PostgreSQL v2 and SQLite (state/postgresql/v2/postgresql.go doSet/doDelete/Multi; state/sqlite/sqlite_dbaccess.go).

    [Theory]
    [InlineData(StateStoreKind.PostgreSql)]
    [InlineData(StateStoreKind.Sqlite)]
    public async Task Sql_stores_roll_a_failed_transaction_back_and_honour_first_write_in_it(StateStoreKind kind)
    {
        _backend.AddStateStore(new StateStoreOptions { Name = "sql", Kind = kind });
        await _client.SaveStateAsync("sql", "m", "v1");
        var firstWrite = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };

        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.ExecuteStateTransactionAsync("sql",
        [
            new StateTransactionRequest("s1", Encoding.UTF8.GetBytes("1"), StateOperationType.Upsert),
            new StateTransactionRequest("m", Encoding.UTF8.GetBytes("\"v2\""), StateOperationType.Upsert, options: firstWrite),
        ]));
        Assert.Equal(StatusCode.Internal, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
        Assert.Null(await _client.GetStateAsync<string>("sql", "s1"));
        Assert.Equal("v1", await _client.GetStateAsync<string>("sql", "m"));
    }

    [Theory]
    [InlineData(StateStoreKind.PostgreSql, StatusCode.Internal)]
    [InlineData(StateStoreKind.Sqlite, StatusCode.Aborted)]
    public async Task Sql_stores_refuse_first_write_on_any_existing_key_and_etags_on_missing_keys(StateStoreKind kind, StatusCode firstWriteRefusal)
    {
        _backend.AddStateStore(new StateStoreOptions { Name = "sql", Kind = kind });
        await _client.SaveStateAsync("sql", "k", 1); // written without first-write: still refused below, unlike Redis
        var ex = await Assert.ThrowsAsync<DaprException>(() =>
            _client.SaveStateAsync("sql", "k", 2, new StateOptions { Concurrency = ConcurrencyMode.FirstWrite }));
        Assert.Equal(firstWriteRefusal, Assert.IsType<RpcException>(ex.InnerException).StatusCode);

        Assert.False(await _client.TrySaveStateAsync("sql", "ghost", 1, Guid.NewGuid().ToString()));
        Assert.Null(await _client.GetStateAsync<int?>("sql", "ghost"));
        var (_, etag) = await _client.GetStateAndETagAsync<int>("sql", "k");
        Assert.True(Guid.TryParse(etag, out _));
    }

    [Fact]
    public async Task Keys_with_the_separator_are_rejected()
    {
        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.SaveStateAsync("statestore", "a||b", 1));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
    }

    [Fact]
    public async Task Unavailable_and_delay_faults_apply_while_switched_on()
    {
        // An unreachable Redis is a store error: daprd answers Internal, not Unavailable (that is a dead sidecar).
        _backend.Faults.StateUnavailable = true;
        var ex = await Assert.ThrowsAsync<DaprException>(() => _client.GetStateAsync<string>("statestore", "k"));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.Contains("connection refused", rpc.Status.Detail);
        _backend.Faults.StateUnavailable = false;

        _backend.Faults.StateDelay = TimeSpan.FromMilliseconds(150);
        var started = DateTime.UtcNow;
        await _client.GetStateAsync<string>("statestore", "k");
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(140));
    }
}

public sealed class KeyPrefixAndScopeTests : IAsyncLifetime
{
    private readonly DaprBackend _backend = new();
    private DaprClient _collector = null!, _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend.AddStateStore("by-app", KeyPrefixMode.AppId);
        _backend.AddStateStore("by-name", KeyPrefixMode.Name);
        _backend.AddStateStore("plain", KeyPrefixMode.None);
        _backend.AddStateStore(new StateStoreOptions { Name = "custom", KeyPrefix = KeyPrefixMode.Custom, CustomPrefix = "telemetry" });
        _backend.AddStateStore("collector-only", KeyPrefixMode.AppId, "collector");
        _backend.AddPubSub("collector-bus", "collector");
        _collector = (await _backend.StartSidecarAsync("collector")).CreateClient();
        _gateway = (await _backend.StartSidecarAsync("gateway")).CreateClient();
    }

    public async Task DisposeAsync()
    {
        _collector.Dispose();
        _gateway.Dispose();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData("by-app", "collector||gpu", false)]
    [InlineData("by-name", "by-name||gpu", true)]
    [InlineData("plain", "gpu", true)]
    [InlineData("custom", "telemetry||gpu", true)]
    public async Task Prefix_mode_decides_whether_two_app_ids_share_keys(string store, string rawKey, bool shared)
    {
        await _collector.SaveStateAsync(store, "gpu", "window");
        Assert.Equal(shared ? "window" : null, await _gateway.GetStateAsync<string>(store, "gpu"));
        Assert.True(_backend.StateStore(store).Entries.ContainsKey(rawKey));
    }

    [Fact]
    public async Task Out_of_scope_components_do_not_exist_for_that_app()
    {
        await _collector.SaveStateAsync("collector-only", "k", 1);
        var ex = await Assert.ThrowsAsync<DaprException>(() => _gateway.GetStateAsync<int>("collector-only", "k"));
        var rpc = Assert.IsType<RpcException>(ex.InnerException);
        Assert.Equal(StatusCode.InvalidArgument, rpc.StatusCode);
        Assert.Contains("state store collector-only is not found", rpc.Status.Detail);

        await _collector.PublishEventAsync("collector-bus", "t", 1);
        var pub = await Assert.ThrowsAsync<DaprException>(() => _gateway.PublishEventAsync("collector-bus", "t", 1));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(pub.InnerException).StatusCode);
    }

    [Fact]
    public async Task Unknown_store_is_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<DaprException>(() => _collector.GetStateAsync<int>("nope", "k"));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
    }
}

public sealed record Sample(string Name, int Value);
