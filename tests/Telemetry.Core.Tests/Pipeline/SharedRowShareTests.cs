using Telemetry.Core.Pipeline;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;

namespace Telemetry.Core.Tests.Pipeline;

public sealed class SharedRowShareTests
{
    private static SharedRowShare Share(IKeyValueStore store, string replica, bool loop = false) =>
        new(store, "file-1", chunkRows: 10, loop, TimeSpan.FromMinutes(1), replica);

    [Fact]
    public async Task Completing_a_claim_and_taking_the_next_is_one_read_and_one_write()
    {
        var store = new CountingStore(new MemoryKeyValueStore());
        await using var share = Share(store, "a");
        var first = await share.ClaimAsync(CancellationToken.None);
        store.Reset();

        var second = await share.CompleteAndClaimAsync(first!, first!.EndRow, endOfFile: false, CancellationToken.None);

        Assert.Equal(new RowClaim(1, 10, 20), second);
        Assert.Equal(1, store.Gets);
        Assert.Equal(1, store.Executes);
    }

    [Fact]
    public async Task Two_replicas_taking_turns_stream_every_row_of_a_pass_once()
    {
        var store = new MemoryKeyValueStore();
        await using var a = Share(store, "a");
        await using var b = Share(store, "b");
        const long rowsInFile = 45;
        var streamed = new List<long>();

        var claims = new Dictionary<SharedRowShare, RowClaim?> { [a] = await a.ClaimAsync(CancellationToken.None), [b] = await b.ClaimAsync(CancellationToken.None) };
        while (claims.Values.Any(claim => claim is not null))
        {
            foreach (var replica in new[] { a, b })
            {
                if (claims[replica] is not { } claim) continue;
                var end = Math.Min(claim.EndRow, rowsInFile);
                for (var row = claim.FirstRow; row < end; row++) streamed.Add(row);
                claims[replica] = await replica.CompleteAndClaimAsync(claim, end, endOfFile: end == rowsInFile, CancellationToken.None);
            }
        }

        Assert.Equal(Enumerable.Range(0, (int)rowsInFile).Select(row => (long)row), streamed.Order());
    }

    [Fact]
    public async Task A_replica_that_stops_early_hands_the_rest_back()
    {
        var store = new MemoryKeyValueStore();
        await using var a = Share(store, "a");
        await using var b = Share(store, "b");
        var claim = await a.ClaimAsync(CancellationToken.None);

        await a.CompleteAsync(claim!, nextRow: 4, endOfFile: false, CancellationToken.None);
        var takenOver = await b.ClaimAsync(CancellationToken.None);

        Assert.Equal(new RowClaim(1, 4, 10), takenOver);
    }
}
