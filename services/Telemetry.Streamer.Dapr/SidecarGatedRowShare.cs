using Telemetry.Core.Pipeline;
using Telemetry.Dapr;

namespace Telemetry.Streamer;

/// <summary>The shared row plan lives in the Dapr state store, so nothing is claimed before the sidecar answers.</summary>
internal sealed class SidecarGatedRowShare(SidecarGate sidecar, IRowShare inner) : IRowShare, IAsyncDisposable
{
    public async Task<RowClaim?> ClaimAsync(CancellationToken cancellationToken)
    {
        await sidecar.Ready.WaitAsync(cancellationToken);
        return await inner.ClaimAsync(cancellationToken);
    }

    public Task CompleteAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken) =>
        inner.CompleteAsync(claim, nextRow, endOfFile, cancellationToken);

    /// <summary>A claim was made, so the sidecar has answered: straight through to the plan's single write.</summary>
    public Task<RowClaim?> CompleteAndClaimAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken) =>
        inner.CompleteAndClaimAsync(claim, nextRow, endOfFile, cancellationToken);

    /// <summary>The host disposes this with its services; the shared plan's lease renewal must stop with it.</summary>
    public ValueTask DisposeAsync() => inner is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
