using Telemetry.Core.Storage;

namespace Telemetry.Core.Windows;

/// <summary>
/// A writer that dies between committing a manifest and deleting the segments it replaced, or between
/// writing new segments and committing, leaves segments no manifest names. Readers never see them, but they
/// take space. On a store that can list its keys this removes them. It must run while nothing writes (the
/// embedded host runs it at start-up, before its collector): a segment written for a manifest not yet
/// committed looks exactly like an orphan.
/// </summary>
public static class OrphanSegmentSweeper
{
    private const int KeysPerCall = 500;

    /// <summary>Deletes unreferenced segments; returns how many (0 on stores that cannot list keys).</summary>
    public static async Task<int> SweepAsync(IKeyValueStore store, CancellationToken cancellationToken = default)
    {
        if (store is not IKeyListing listing) return 0;
        var keys = await listing.ListKeysAsync(WindowKeys.GpuPrefix, cancellationToken).ConfigureAwait(false);
        var manifests = keys.Where(key => key.EndsWith(WindowKeys.ManifestSuffix, StringComparison.Ordinal)).ToList();
        var segments = keys.Where(key => key.Contains(WindowKeys.SegmentInfix, StringComparison.Ordinal)).ToList();

        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chunk in manifests.Chunk(KeysPerCall))
        {
            var read = await store.GetManyAsync(chunk, cancellationToken).ConfigureAwait(false);
            foreach (var item in read.Values)
            {
                var manifest = WindowCodec.DecodeManifest(item.Value);
                foreach (var segment in manifest.Segments) referenced.Add(WindowKeys.Segment(manifest.Gpu.Uuid, segment.Id));
            }
        }

        var orphans = segments.Where(key => !referenced.Contains(key)).ToList();
        foreach (var chunk in orphans.Chunk(KeysPerCall))
        {
            await store.ExecuteAsync([.. chunk.Select(key => new DeleteOperation(key, WriteCondition.Any))], cancellationToken)
                .ConfigureAwait(false);
        }
        return orphans.Count;
    }
}
