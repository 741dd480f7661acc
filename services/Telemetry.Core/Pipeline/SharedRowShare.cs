using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Pipeline;

/// <summary>
/// Lets any number of streamer replicas share one file without renumbering: the rows of a pass are handed
/// out in ranges of <c>chunkRows</c> through one plan document in the shared state store, changed only by
/// ETag-guarded writes. A replica claims a range with a lease it renews while streaming; when it stops
/// gracefully it hands back the rows it did not stream, and a replica that dies loses its leases after
/// <c>leaseTime</c>, so the others take its share over within seconds. A pass ends when every row up to the
/// end of the file is done; then (if looping) the first replica to notice starts the next one.
/// <para>Guarantee: with graceful joins and leaves no row is sent twice in a pass and none is missed. A
/// replica killed mid-range is the exception: rows it sent before dying are sent again by its successor.</para>
/// </summary>
public sealed class SharedRowShare : IRowShare, IAsyncDisposable
{
    private readonly IKeyValueStore _store;
    private readonly string _planKey;
    private readonly int _chunkRows;
    private readonly bool _loop;
    private readonly TimeSpan _leaseTime;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResiliencePipeline _conflictRetry;
    private readonly ResiliencePipeline _untilReachable;
    private Task? _renewal;

    public SharedRowShare(IKeyValueStore store, string fileIdentity, int chunkRows, bool loop, TimeSpan leaseTime,
        string replicaId, TimeProvider? clock = null, ILogger<SharedRowShare>? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        _store = store;
        _planKey = $"streamer|plan|{fileIdentity}";
        _chunkRows = chunkRows;
        _loop = loop;
        _leaseTime = leaseTime;
        ReplicaId = replicaId;
        _clock = clock ?? TimeProvider.System;
        _logger = logger ?? NullLogger<SharedRowShare>.Instance;
        // Every replica writes the one plan document, so races are expected; past this many in a row the store is
        // waited for like any other failure, below.
        _conflictRetry = Retries.Conflicts(ConflictAttempts, _clock);
        _untilReachable = Retries.Forever(Backoff.Delivery, retry => _logger.LogWarning(
            "The state store holding the row plan failed ({Reason}); trying again in {Wait}", retry.Error.Message, retry.Delay), _clock);
    }

    private const int ConflictAttempts = 100;

    public string ReplicaId { get; }

    /// <summary>How long a replica with nothing to claim waits before looking again.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public async Task<RowClaim?> ClaimAsync(CancellationToken cancellationToken)
    {
        _renewal ??= RenewLeasesAsync(_stopping.Token);
        while (true)
        {
            var (claim, finished) = await UpdateWhenReachableAsync(TryClaim, cancellationToken).ConfigureAwait(false);
            if (claim is not null) return claim;
            if (finished) return null;
            await Task.Delay(PollInterval, _clock, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task CompleteAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken)
    {
        await UpdateWhenReachableAsync(plan =>
        {
            if (plan.Pass == claim.Pass) Complete(plan, claim, nextRow, endOfFile);
            return (true, (RowClaim?)null, false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One read and one guarded write of the plan for both, instead of two of each: at full speed the
    /// claims were most of a streamer's state calls (docs/performance.md, figure 4).</summary>
    public async Task<RowClaim?> CompleteAndClaimAsync(RowClaim claim, long nextRow, bool endOfFile, CancellationToken cancellationToken)
    {
        var (next, finished) = await UpdateWhenReachableAsync(plan =>
        {
            if (plan.Pass == claim.Pass) Complete(plan, claim, nextRow, endOfFile);
            var (_, taken, done) = TryClaim(plan);
            return (true, taken, done);
        }, CancellationToken.None).ConfigureAwait(false);
        if (next is not null || finished) return next;
        return await ClaimAsync(cancellationToken).ConfigureAwait(false); // nothing free yet: wait as a claim does
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_renewal is not null)
        {
            try { await _renewal.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        _stopping.Dispose();
    }

    private (bool Changed, RowClaim? Claim, bool Finished) TryClaim(Plan plan)
    {
        var now = _clock.GetUtcNow().UtcTicks;
        var expires = now + _leaseTime.Ticks;
        // 1. A range someone handed back, or whose holder stopped renewing.
        foreach (var range in plan.Ranges)
        {
            if (range.Owner is null || range.Expires < now)
            {
                if (range.Owner is not null) _logger.LogInformation("Taking over rows {First}-{End} from {Owner}, whose lease expired", range.First, range.End, range.Owner);
                range.Owner = ReplicaId;
                range.Expires = expires;
                return (true, new RowClaim(plan.Pass, range.First, range.End), false);
            }
        }
        // 2. Rows nobody has had yet.
        if (plan.TotalRows is null || plan.Next < plan.TotalRows)
        {
            var range = new RowRange { First = plan.Next, End = plan.Next + _chunkRows, Owner = ReplicaId, Expires = expires };
            if (plan.TotalRows is { } total) range.End = Math.Min(range.End, total);
            plan.Next = range.End;
            plan.Ranges.Add(range);
            return (true, new RowClaim(plan.Pass, range.First, range.End), false);
        }
        // 3. Everything handed out; the pass is over once nobody holds a range.
        if (plan.Ranges.Count > 0) return (false, null, false);
        if (!_loop) return (false, null, true);
        plan.Pass++;
        plan.Next = 0;
        return TryClaim(plan);
    }

    private static void Complete(Plan plan, RowClaim claim, long nextRow, bool endOfFile)
    {
        var index = plan.Ranges.FindIndex(range => range.First == claim.FirstRow);
        if (index < 0) return;
        var range = plan.Ranges[index];
        if (endOfFile)
        {
            // The file ends at nextRow: nothing at or after it exists, in this range or any other.
            plan.TotalRows = nextRow;
            plan.Next = Math.Min(plan.Next, nextRow);
            plan.Ranges.RemoveAll(other => other.First >= nextRow);
            plan.Ranges.Remove(range);
            return;
        }
        if (nextRow >= range.End)
        {
            plan.Ranges.RemoveAt(index);
            return;
        }
        // Stopped early: hand the rest back for another replica.
        range.First = Math.Max(range.First, nextRow);
        range.Owner = null;
        range.Expires = 0;
    }

    private async Task RenewLeasesAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await Task.Delay(_leaseTime / 3, _clock, stopping).ConfigureAwait(false);
            try
            {
                await UpdateAsync(plan =>
                {
                    var expires = _clock.GetUtcNow().UtcTicks + _leaseTime.Ticks;
                    var changed = false;
                    foreach (var range in plan.Ranges)
                    {
                        if (range.Owner != ReplicaId) continue;
                        range.Expires = expires;
                        changed = true;
                    }
                    return (changed, (RowClaim?)null, false);
                }, stopping).ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                _logger.LogWarning("Renewing row leases failed: {Reason}", error.Message);
            }
        }
    }

    /// <summary>Read, change, write with the ETag read; on a conflict read again.</summary>
    private Task<(RowClaim? Claim, bool Finished)> UpdateAsync(
        Func<Plan, (bool Changed, RowClaim? Claim, bool Finished)> change, CancellationToken cancellationToken) =>
        _store.UpdateAsync(_planKey, item =>
        {
            var plan = item is null ? new Plan() : JsonSerializer.Deserialize(item.Value, PlanJsonContext.Default.Plan) ?? new Plan();
            var (changed, claim, finished) = change(plan);
            return changed
                ? Change<(RowClaim?, bool)>.Write(JsonSerializer.SerializeToUtf8Bytes(plan, PlanJsonContext.Default.Plan), (claim, finished))
                : Change<(RowClaim?, bool)>.Keep((claim, finished));
        }, _conflictRetry, cancellationToken: cancellationToken);

    /// <summary><see cref="UpdateAsync"/>, but a store that fails (down, unreachable) is waited for rather than
    /// ending the streamer: the plan is only coordination, and nothing is lost by trying again.</summary>
    private async Task<(RowClaim? Claim, bool Finished)> UpdateWhenReachableAsync(
        Func<Plan, (bool Changed, RowClaim? Claim, bool Finished)> change, CancellationToken cancellationToken) =>
        await _untilReachable.ExecuteAsync(async token => await UpdateAsync(change, token).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);

    internal sealed class Plan
    {
        public long Pass { get; set; } = 1;
        public long Next { get; set; }
        public long? TotalRows { get; set; }
        public List<RowRange> Ranges { get; set; } = [];
    }

    internal sealed class RowRange
    {
        public long First { get; set; }
        public long End { get; set; }
        public string? Owner { get; set; }
        public long Expires { get; set; }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SharedRowShare.Plan))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
