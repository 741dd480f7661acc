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
    private readonly List<(DaprBackend Backend, DaprClient Client)> _created = [];

    protected override IKeyValueStore CreateStore(TimeProvider clock)
    {
        var backend = new DaprBackend(clock);
        backend.AddStateStore(new StateStoreOptions { Name = "telemetry-state", KeyPrefix = KeyPrefixMode.Name, Kind = kind });
        var sidecar = backend.StartSidecarAsync("telemetry-collector").GetAwaiter().GetResult();
        var client = sidecar.CreateClient();
        _created.Add((backend, client));
        return new DaprKeyValueStore(client, Options.Create(new DaprOptions { StateStoreName = "telemetry-state" }));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
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
