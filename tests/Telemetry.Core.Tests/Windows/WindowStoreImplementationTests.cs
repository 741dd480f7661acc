using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Core.Tests.Windows;

public sealed class MemoryWindowStoreTests : WindowStoreContract
{
    protected override IKeyValueStore CreateStore() => new MemoryKeyValueStore();
}

public sealed class SqliteWindowStoreTests : WindowStoreContract, IDisposable
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

/// <summary>The window logic must not rely on atomic multi-key writes (Dapr's Redis store has none).</summary>
public sealed class NonAtomicWindowStoreTests : WindowStoreContract
{
    protected override IKeyValueStore CreateStore() => new NonAtomicStore(new MemoryKeyValueStore());
}
