namespace Telemetry.Core.Storage;

/// <summary>
/// A store that keeps space freed by deletes until asked to give it back (SQLite: freed pages stay in the file).
/// Callers that delete a lot at once (a finished or refused import's chunks) ask for it; stores that return
/// space by themselves (Redis, memory) do not implement this.
/// </summary>
public interface ISpaceReclaiming
{
    /// <summary>Returns freed space to the file system. Best effort: may leave some while readers are active.</summary>
    Task ReclaimSpaceAsync(CancellationToken cancellationToken = default);
}
