using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Resilience;

/// <summary>Whether waiting can fix a failure.</summary>
public enum FailureKind
{
    /// <summary>The store or sidecar is unavailable, slow, or another writer won a race: the same work succeeds
    /// later, so it is retried for as long as it takes.</summary>
    Transient,

    /// <summary>Anything else: the same input fails the same way (bad data, a bug, a setting). Retried a few times
    /// in case the classification is wrong, then quarantined so the rest of the pipeline keeps moving.</summary>
    Permanent,
}

/// <summary>
/// Sorts failures into <see cref="FailureKind"/>. This one knows the core's own exceptions, the BCL's transport and
/// timeout exceptions and SQLite's result codes; an adapter whose client throws its own types (gRPC for Dapr)
/// extends it. An exception wrapping a transient one is transient (clients wrap transport errors).
/// </summary>
public class FailureClassifier
{
    public static FailureClassifier Default { get; } = new();

    public FailureKind Classify(Exception error) => IsTransient(error) ? FailureKind.Transient : FailureKind.Permanent;

    protected virtual bool IsTransient(Exception error) => error switch
    {
        // Lost a race with another writer (one that still conflicted after the writer's own retries included).
        ConcurrencyConflictException or WindowWriteException => true,
        // The loops this classifies are never cancelled by their caller, so a cancellation is a timeout.
        TimeoutException or OperationCanceledException => true,
        HttpRequestException or SocketException or IOException => true,
        SqliteException sqlite => IsTransientSqlite(sqlite.SqliteErrorCode),
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient),
        _ => error.InnerException is { } inner && IsTransient(inner),
    };

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
