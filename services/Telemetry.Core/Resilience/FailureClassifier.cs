using System.Net.Sockets;
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
/// timeout exceptions; an adapter whose client throws its own types (gRPC for Dapr, SQLite's result codes)
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
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient),
        _ => error.InnerException is { } inner && IsTransient(inner),
    };
}
