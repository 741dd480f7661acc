using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Windows;

/// <summary>Looks at the stored keys directly and checks what the layout promises.</summary>
internal static class WindowInvariants
{
    /// <summary>About 30 bytes a sample in practice; 60 is the documented ceiling.</summary>
    public const int BytesPerSample = 60;

    public static async Task CheckAsync(TrackingStore store, WindowOptions options, IEnumerable<string> uuids)
    {
        var snapshot = await store.SnapshotAsync();
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uuid in uuids)
        {
            var manifestItem = snapshot.GetValueOrDefault(WindowKeys.Manifest(uuid));
            Assert.NotNull(manifestItem);
            var manifest = WindowCodec.DecodeManifest(manifestItem.Value);
            var segments = manifest.Segments;

            Assert.InRange(manifest.Retained, 1, options.MaxEntries);
            // Fragmentation bound: adjacent segments are not both small, except a short binary-counter tail.
            var segmentBound = 2 * ((options.MaxEntries + options.SegmentCapacity - 1) / options.SegmentCapacity)
                + (int)Math.Ceiling(Math.Log2(options.SegmentCapacity)) + 2;
            Assert.True(segments.Count <= segmentBound,
                $"{uuid}: {segments.Count} segments for {manifest.Retained} samples (bound {segmentBound})");
            Assert.True(manifestItem.Value.Length <= 400 + 80 * segmentBound,
                $"{uuid}: manifest is {manifestItem.Value.Length} bytes");

            for (var i = 0; i < segments.Count; i++)
            {
                var segment = segments[i];
                var key = WindowKeys.Segment(uuid, segment.Id);
                Assert.True(referenced.Add(key), $"{key} named twice");
                Assert.True(snapshot.TryGetValue(key, out var item), $"{key} is named by the manifest but missing");
                var samples = WindowCodec.DecodeSegment(item.Value);

                Assert.Equal(segment.Count, samples.Length);
                Assert.InRange(segment.Count, 1, options.SegmentCapacity);
                Assert.Equal(segment.From, samples[0].Timestamp.Ticks);
                Assert.Equal(segment.To, samples[^1].Timestamp.Ticks);
                Assert.True(i == 0 ? segment.Skip < segment.Count : segment.Skip == 0, $"{key}: skip {segment.Skip}");
                if (i > 0) Assert.True(segments[i - 1].To < segment.From, $"{key} overlaps or precedes its predecessor");
                for (var s = 1; s < samples.Length; s++)
                {
                    Assert.True(SampleOrder.Instance.Compare(samples[s - 1], samples[s]) < 0, $"{key} is not sorted and distinct");
                }
                Assert.True(item.Value.Length <= options.SegmentCapacity * BytesPerSample + 200,
                    $"{key} is {item.Value.Length} bytes for {samples.Length} samples");
            }
        }

        // Nothing left behind: every stored segment is named by its GPU's manifest.
        var leaked = snapshot.Keys.Where(k => k.Contains("|s|", StringComparison.Ordinal) && !referenced.Contains(k)).ToList();
        Assert.True(leaked.Count == 0, $"segments named by no manifest: {string.Join(", ", leaked.Take(5))}");
    }
}
