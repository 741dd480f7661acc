using Microsoft.Data.Sqlite;
using Telemetry.Core.Resilience;

namespace Telemetry.Storage.Sqlite;

/// <summary>The core's classification plus SQLite's result codes, for a host that stores in <see cref="SqliteKeyValueStore"/>.</summary>
public sealed class SqliteFailureClassifier : FailureClassifier
{
    protected override bool IsTransient(Exception error) =>
        error is SqliteException sqlite ? IsTransientSqlite(sqlite.SqliteErrorCode) : base.IsTransient(error);

    /// <summary>Primary result codes (https://sqlite.org/rescode.html) that describe the file or its locks, not the
    /// statement: busy or locked by another connection, an I/O error, a full disk, a file that cannot be opened or
    /// is read-only for now. Everything else (constraint, corrupt, misuse, ...) is the same on every try.</summary>
    private static bool IsTransientSqlite(int code) => code is
        5   // SQLITE_BUSY
        or 6   // SQLITE_LOCKED
        or 8   // SQLITE_READONLY
        or 10  // SQLITE_IOERR
        or 13  // SQLITE_FULL
        or 14; // SQLITE_CANTOPEN
}
