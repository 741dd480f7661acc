using Dapr.Client;
using Microsoft.Extensions.Options;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.DaprDouble;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Dapr.Tests;

/// <summary>
/// The key-value contract for <see cref="DaprKeyValueStore"/>: the real DaprClient against a sidecar double that
/// behaves like daprd in front of each state store the project ships a component for.
/// </summary>
public abstract class DaprKeyValueStoreContract(StateStoreKind kind) : KeyValueStoreContract, IAsyncLifetime
{
    private readonly DoubleBackedStores _stores = new(kind);

    protected override IKeyValueStore CreateStore(TimeProvider clock) => _stores.Create(clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _stores.DisposeAsync().AsTask();
}

/// <summary>Fresh <see cref="DaprKeyValueStore"/>s, each on its own backend and sidecar double of the given store type.
/// The contracts create stores synchronously, so the sidecar is started synchronously too.</summary>
internal sealed class DoubleBackedStores(StateStoreKind kind) : IAsyncDisposable
{
    private readonly List<(DaprBackend Backend, DaprClient Client)> _created = [];

    public IKeyValueStore Create(TimeProvider? clock = null)
    {
        var backend = new DaprBackend(clock);
        backend.AddStateStore(new StateStoreOptions { Name = "telemetry-state", KeyPrefix = KeyPrefixMode.Name, Kind = kind });
        var sidecar = backend.StartSidecarAsync("telemetry-collector").GetAwaiter().GetResult();
        var client = sidecar.CreateClient();
        _created.Add((backend, client));
        return new DaprKeyValueStore(client, Options.Create(new DaprOptions { StateStoreName = "telemetry-state" }));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (backend, client) in _created)
        {
            client.Dispose();
            await backend.DisposeAsync();
        }
    }
}

/// <summary>Redis (components/statestore.yaml): transactions apply what they can, an ETag on a missing key creates
/// it, versions start again at 1 after a delete.</summary>
public sealed class DaprRedisKeyValueStoreContractTests() : DaprKeyValueStoreContract(StateStoreKind.Redis)
{
    protected override bool TransactionsAreAtomic => false;
    protected override bool ETagGuardCreatesMissingKeys => true;
    protected override bool ETagsAreNeverReused => false;
}

/// <summary>PostgreSQL v2 (components/alternatives/statestore-postgresql.yaml).</summary>
public sealed class DaprPostgreSqlKeyValueStoreContractTests() : DaprKeyValueStoreContract(StateStoreKind.PostgreSql);

/// <summary>SQLite (components/alternatives/statestore-sqlite.yaml).</summary>
public sealed class DaprSqliteKeyValueStoreContractTests() : DaprKeyValueStoreContract(StateStoreKind.Sqlite);

/// <summary>
/// The window store's concurrency contract (up to 10 writers racing on the same GPUs, and writers racing to create
/// the same new GPUs) through <see cref="DaprKeyValueStore"/> and the sidecar double, per state store type: the
/// property "the window holds the MAX_ENTRIES greatest samples ever offered" on daprd's real semantics.
/// </summary>
public abstract class DaprWindowConcurrencyContract(StateStoreKind kind) : Telemetry.Core.Tests.Windows.WindowConcurrencyContract, IAsyncLifetime
{
    private readonly DoubleBackedStores _stores = new(kind);

    protected override IKeyValueStore CreateStore() => _stores.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _stores.DisposeAsync().AsTask();
}

public sealed class DaprRedisWindowConcurrencyTests() : DaprWindowConcurrencyContract(StateStoreKind.Redis);

public sealed class DaprPostgreSqlWindowConcurrencyTests() : DaprWindowConcurrencyContract(StateStoreKind.PostgreSql);

public sealed class DaprSqliteWindowConcurrencyTests() : DaprWindowConcurrencyContract(StateStoreKind.Sqlite);
