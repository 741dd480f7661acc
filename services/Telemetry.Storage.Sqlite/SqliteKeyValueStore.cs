using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

using Telemetry.Core.Storage;

namespace Telemetry.Storage.Sqlite;

/// <summary>
/// The embedded durable store (<c>CHECKPOINT_ENABLED=true</c>): one SQLite file in WAL mode. Every
/// <see cref="ExecuteAsync"/> is one SQLite transaction, so a crash leaves each GPU's window either before
/// or after a write, never torn. ETags are values of one counter that only grows, so a key deleted and
/// created again never reuses an ETag a writer may still hold. The counter lives in the file (table
/// <c>kv_meta</c>) and is advanced inside each write transaction, so it survives a restart even when the
/// newest rows were deleted, and several connections to one file never hand out the same value.
/// Writes are serialised on one connection; reads run on a small pool of read-only connections, which in
/// WAL mode neither wait for the writer nor for each other (queries of many clients overlap).
/// </summary>
public sealed class SqliteKeyValueStore : IKeyValueStore, IKeyListing, ISpaceReclaiming, IDisposable
{
    private const int MaxKeysPerQuery = 500;
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _readConnectionString;
    private readonly ConcurrentBag<ReadConnection> _idleReaders = [];
    private readonly SemaphoreSlim _readSlots = new(ReadConnections, ReadConnections);
    private static readonly int ReadConnections = Math.Clamp(Environment.ProcessorCount, 2, 8);
    private readonly TimeProvider _clock;
    // Prepared once and reused for every operation (all use of the connection is under _gate): SQLite then
    // compiles each statement once instead of once per operation.
    private SqliteCommand? _versionOf, _upsert, _delete;

    public SqliteKeyValueStore(string path, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        _connection.Open();
        _readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();
        UseIncrementalVacuum();
        Run("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA busy_timeout=5000;
            CREATE TABLE IF NOT EXISTS kv (
                key TEXT PRIMARY KEY,
                value BLOB NOT NULL,
                version INTEGER NOT NULL,
                expires_at INTEGER NULL
            );
            CREATE TABLE IF NOT EXISTS kv_meta (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL
            );
            INSERT OR IGNORE INTO kv_meta (id, version) SELECT 1, COALESCE(MAX(version), 0) FROM kv;
            """);
    }

    /// <summary>One key through a statement its connection prepared once. Every query reads its GPU's manifest this
    /// way first; building, compiling and binding the general statement each time cost ~0.05 ms of a 0.6 ms
    /// <c>/series</c> request (docs/performance.md, "tenth pass").</summary>
    public Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        ReadAsync(reader => reader.Get(key, _clock.GetUtcNow().ToUnixTimeMilliseconds()), cancellationToken);

    public async Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, StoredItem>(keys.Count, StringComparer.Ordinal);
        if (keys.Count == 0) return result;
        return await ReadAsync(reader =>
        {
            var connection = reader.Connection;
            var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            // Several statements read one snapshot, as one did when reads and writes shared the gate.
            using var transaction = keys.Count > MaxKeysPerQuery ? connection.BeginTransaction(deferred: true) : null;
            foreach (var chunk in keys.Chunk(MaxKeysPerQuery))
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                var names = new string[chunk.Length];
                for (var i = 0; i < chunk.Length; i++)
                {
                    names[i] = "$k" + i;
                    command.Parameters.AddWithValue(names[i], chunk[i]);
                }
                command.Parameters.AddWithValue("$now", now);
                command.CommandText =
                    $"SELECT key, value, version FROM kv WHERE key IN ({string.Join(',', names)}) AND (expires_at IS NULL OR expires_at > $now)";
                using var rows = command.ExecuteReader();
                while (rows.Read())
                {
                    var key = rows.GetString(0);
                    result[key] = new StoredItem(key, (byte[])rows[1], rows.GetInt64(2).ToString());
                }
            }
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="read"/> on a read connection while holding one of <see cref="_readSlots"/>, and
    /// gives the connection back to the idle ones afterwards.</summary>
    private async Task<T> ReadAsync<T>(Func<ReadConnection, T> read, CancellationToken cancellationToken)
    {
        await _readSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        ReadConnection? lent = null;
        try
        {
            lent = RentReader();
            return read(lent);
        }
        finally
        {
            if (lent is not null) _idleReaders.Add(lent);
            _readSlots.Release();
        }
    }

    /// <summary>An idle read connection, or a new one while fewer than <see cref="ReadConnections"/> exist
    /// (the caller holds one of <see cref="_readSlots"/>).</summary>
    private ReadConnection RentReader() => _idleReaders.TryTake(out var idle) ? idle : new ReadConnection(_readConnectionString);

    /// <summary>A read-only connection and its single-key read, prepared once (used by one caller at a time).</summary>
    private sealed class ReadConnection : IDisposable
    {
        private readonly SqliteCommand _getOne;
        private readonly SqliteParameter _key, _now;

        public ReadConnection(string connectionString)
        {
            Connection = new SqliteConnection(connectionString);
            Connection.Open();
            using (var pragma = Connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA busy_timeout=5000;";
                pragma.ExecuteNonQuery();
            }
            _getOne = Connection.CreateCommand();
            _getOne.CommandText = "SELECT value, version FROM kv WHERE key = $k AND (expires_at IS NULL OR expires_at > $now)";
            _key = _getOne.Parameters.Add("$k", SqliteType.Text);
            _now = _getOne.Parameters.Add("$now", SqliteType.Integer);
            _getOne.Prepare();
        }

        public SqliteConnection Connection { get; }

        public StoredItem? Get(string key, long now)
        {
            (_key.Value, _now.Value) = (key, now);
            using var reader = _getOne.ExecuteReader();
            return reader.Read() ? new StoredItem(key, (byte[])reader[0], reader.GetInt64(1).ToString()) : null;
        }

        public void Dispose()
        {
            _getOne.Dispose();
            Connection.Dispose();
        }
    }

    public async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        if (operations.Count == 0) return;
        StateOperations.EnsureSupported(operations);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            using var transaction = _connection.BeginTransaction(); // BEGIN IMMEDIATE: holds the write lock
            var version = ReadCounter(transaction);
            foreach (var operation in operations)
            {
                if (!Satisfies(operation.Condition, CurrentVersion(transaction, operation.Key, now)))
                {
                    transaction.Rollback();
                    throw new ConcurrencyConflictException(operation.Key);
                }
                SqliteCommand command;
                if (operation is UpsertOperation upsert)
                {
                    command = _upsert ??= Prepare("""
                        INSERT INTO kv (key, value, version, expires_at) VALUES ($key, $value, $version, $expires)
                        ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
                        """, "$key", "$value", "$version", "$expires");
                    command.Parameters["$value"].Value = upsert.Value;
                    command.Parameters["$version"].Value = ++version;
                    command.Parameters["$expires"].Value = upsert.TimeToLive is { } ttl
                        ? now + (long)ttl.TotalMilliseconds
                        : DBNull.Value;
                }
                else
                {
                    command = _delete ??= Prepare("DELETE FROM kv WHERE key = $key", "$key");
                }
                command.Transaction = transaction;
                command.Parameters["$key"].Value = operation.Key;
                command.ExecuteNonQuery();
            }
            using (var counter = _connection.CreateCommand())
            {
                counter.Transaction = transaction;
                counter.CommandText = "UPDATE kv_meta SET version = $version WHERE id = 1";
                counter.Parameters.AddWithValue("$version", version);
                counter.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyList<string>> ListKeysAsync(string prefix, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = _connection.CreateCommand();
            // A range on the primary key rather than LIKE, whose wildcards could appear in a prefix.
            command.CommandText = "SELECT key FROM kv WHERE key >= $from AND key < $to ORDER BY key";
            command.Parameters.AddWithValue("$from", prefix);
            command.Parameters.AddWithValue("$to", prefix + '\uffff');
            var keys = new List<string>();
            using var reader = command.ExecuteReader();
            while (reader.Read()) keys.Add(reader.GetString(0));
            return keys;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Gives the pages deletes freed back to the file system (<c>PRAGMA incremental_vacuum</c>) and
    /// truncates the write-ahead log, which grew by every page written since the last checkpoint. A 100 MB upload
    /// refused or finished otherwise left the file 100 MB larger for good.</summary>
    public async Task ReclaimSpaceAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Run("PRAGMA incremental_vacuum;");
            Run("PRAGMA wal_checkpoint(TRUNCATE);"); // does less, without failing, while a reader holds an old snapshot
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Incremental auto-vacuum lets <see cref="ReclaimSpaceAsync"/> shrink the file. It must be chosen before
    /// the first table exists; a file created before this setting is rewritten once (<c>VACUUM</c>) to adopt it.</summary>
    private void UseIncrementalVacuum()
    {
        using var mode = _connection.CreateCommand();
        mode.CommandText = "PRAGMA auto_vacuum";
        if (Convert.ToInt64(mode.ExecuteScalar()) == 2) return;
        using var tables = _connection.CreateCommand();
        tables.CommandText = "SELECT count(*) FROM sqlite_master";
        var existing = Convert.ToInt64(tables.ExecuteScalar()) > 0;
        Run("PRAGMA auto_vacuum=INCREMENTAL;");
        if (existing) Run("VACUUM;");
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT 1";
            return Convert.ToInt64(command.ExecuteScalar()) == 1;
        }
        catch (SqliteException)
        {
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _versionOf?.Dispose();
        _upsert?.Dispose();
        _delete?.Dispose();
        // Readers first: the last connection to close checkpoints the WAL into the file, which only the writer can.
        while (_idleReaders.TryTake(out var reader)) reader.Dispose();
        _connection.Dispose();
        _gate.Dispose();
        _readSlots.Dispose();
    }

    private long ReadCounter(SqliteTransaction transaction)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT version FROM kv_meta WHERE id = 1";
        return Convert.ToInt64(command.ExecuteScalar());
    }

    private long? CurrentVersion(SqliteTransaction transaction, string key, long now)
    {
        var command = _versionOf ??= Prepare("SELECT version FROM kv WHERE key = $key AND (expires_at IS NULL OR expires_at > $now)", "$key", "$now");
        command.Transaction = transaction;
        command.Parameters["$key"].Value = key;
        command.Parameters["$now"].Value = now;
        return command.ExecuteScalar() is long version ? version : null;
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        return command;
    }

    private static bool Satisfies(WriteCondition condition, long? current) => condition.Kind switch
    {
        WriteConditionKind.MustNotExist => current is null,
        WriteConditionKind.ETagMatches => current is { } version && version.ToString() == condition.ETag,
        _ => true,
    };

    private void Run(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
