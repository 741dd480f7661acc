using Telemetry.Core.Model;

namespace Telemetry.Core.Pipeline;

/// <summary>Where the streamer sends batches: the in-process queue (embedded) or Dapr pub/sub.
/// A completed call means the batch was accepted; it throws when it was not.</summary>
public interface IBatchPublisher
{
    Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// Hands out the rows a streamer replica streams, as ranges of data-row ordinals (0 = first row after the
/// header). Replicas sharing a file each claim different ranges, so no row is sent twice in a pass.
/// </summary>
public interface IRowShare
{
    /// <summary>The next range to stream, or null when there is no more work (a single pass is finished).
    /// May wait while other replicas finish the ranges they hold.</summary>
    Task<RowClaim?> ClaimAsync(CancellationToken cancellationToken);

    /// <summary>Reports how far a claim got: <paramref name="nextRow"/> is the first row not streamed
    /// (the claim's end when finished; less when stopping, so another replica resumes there);
    /// <paramref name="endOfFile"/> when the file ended inside the claim.</summary>
    Task CompleteAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken);

    /// <summary><see cref="CompleteAsync"/> then <see cref="ClaimAsync"/>. The completion is never cancelled;
    /// <paramref name="cancellationToken"/> cancels only the wait for the next claim. A shared plan does both in
    /// one write.</summary>
    async Task<RowClaim?> CompleteAndClaimAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken)
    {
        await CompleteAsync(claim, nextRow, endOfFile, CancellationToken.None).ConfigureAwait(false);
        return await ClaimAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Rows [<see cref="FirstRow"/>, <see cref="EndRow"/>) of pass <see cref="Pass"/>.</summary>
public sealed record RowClaim(long Pass, long FirstRow, long EndRow);

/// <summary>A streamer alone: each pass is the whole file; with <c>loop</c> false there is one pass.</summary>
public sealed class WholeFileShare(bool loop) : IRowShare
{
    private long _pass;
    private bool _done;

    public Task<RowClaim?> ClaimAsync(CancellationToken cancellationToken)
    {
        if (_done) return Task.FromResult<RowClaim?>(null);
        return Task.FromResult<RowClaim?>(new RowClaim(++_pass, 0, long.MaxValue));
    }

    public Task CompleteAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken)
    {
        if (!loop || !endOfFile) _done = true;
        return Task.CompletedTask;
    }
}

/// <summary>Where the collector sends what it consumed: validates and stores.</summary>
public interface IBatchSink
{
    Task<Windows.AppendResult> IngestAsync(TelemetryBatch batch, CancellationToken cancellationToken);
}
