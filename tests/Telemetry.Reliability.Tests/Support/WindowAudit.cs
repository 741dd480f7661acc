using Microsoft.Data.Sqlite;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Reliability.Tests.Support;

/// <summary>What one GPU's window looked like to the audit.</summary>
internal sealed record GpuAudit(string Uuid, int Retained, long LastSeen);

/// <summary>The result of reading every window in a store and checking what the layout promises.</summary>
internal sealed class AuditReport
{
    public int Gpus { get; set; }
    public long Samples { get; set; }
    /// <summary>Windows whose manifest names a missing segment, or whose segments disagree with it
    /// (count, time range, order).</summary>
    public int TornWindows { get; set; }
    /// <summary>Samples sharing (timestamp, metric) with another sample of the same GPU.</summary>
    public int Duplicates { get; set; }
    /// <summary>Directory entries without a manifest: a GPU registered by a write that never committed
    /// (allowed; the reader hides it).</summary>
    public int Uncommitted { get; set; }
    public List<string> Problems { get; } = [];
    public Dictionary<string, GpuAudit> PerGpu { get; } = new(StringComparer.Ordinal);

    public override string ToString() =>
        $"{Gpus} GPUs, {Samples} samples, {TornWindows} torn windows, {Duplicates} duplicates, {Uncommitted} uncommitted registrations"
        + (Problems.Count > 0 ? "; " + string.Join("; ", Problems.Take(5)) : "");
}

internal static class WindowAudit
{
    public static async Task<AuditReport> RunAsync(IKeyValueStore store, int? maxEntries = null)
    {
        var report = new AuditReport();
        var buckets = await store.GetManyAsync(WindowKeys.AllDirectoryBuckets);
        var uuids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var bucket in buckets.Values)
        {
            foreach (var gpu in WindowCodec.DecodeBucket(bucket.Value).Gpus) uuids.Add(gpu.Uuid);
        }
        foreach (var uuid in uuids)
        {
            var item = await store.GetAsync(WindowKeys.Manifest(uuid));
            if (item is null)
            {
                report.Uncommitted++;
                continue;
            }
            report.Gpus++;
            var manifest = WindowCodec.DecodeManifest(item.Value);
            var torn = false;
            void Problem(string text)
            {
                torn = true;
                if (report.Problems.Count < 20) report.Problems.Add($"{uuid}: {text}");
            }

            var keys = manifest.Segments.ConvertAll(s => WindowKeys.Segment(uuid, s.Id));
            var segments = await store.GetManyAsync(keys);
            var seen = new HashSet<(long, string)>();
            long previousTo = long.MinValue;
            var retained = 0;
            for (var i = 0; i < manifest.Segments.Count; i++)
            {
                var reference = manifest.Segments[i];
                if (!segments.TryGetValue(keys[i], out var stored))
                {
                    Problem($"segment {reference.Id} is named by the manifest but missing");
                    continue;
                }
                var samples = WindowCodec.DecodeSegment(stored.Value);
                if (samples.Length != reference.Count) Problem($"segment {reference.Id} holds {samples.Length} samples, manifest says {reference.Count}");
                if (samples.Length == 0) continue;
                if (samples[0].Timestamp.Ticks != reference.From || samples[^1].Timestamp.Ticks != reference.To)
                    Problem($"segment {reference.Id} spans other times than the manifest says");
                if (reference.From <= previousTo) Problem($"segment {reference.Id} overlaps or precedes its predecessor");
                if (i > 0 && reference.Skip != 0) Problem($"segment {reference.Id} has skip {reference.Skip} but is not first");
                previousTo = reference.To;
                for (var s = 0; s < samples.Length; s++)
                {
                    if (s > 0 && SampleOrder.Instance.Compare(samples[s - 1], samples[s]) >= 0)
                        Problem($"segment {reference.Id} is not sorted at {s}");
                    if (s < reference.Skip) continue;
                    retained++;
                    if (!seen.Add((samples[s].Timestamp.Ticks, samples[s].MetricName))) report.Duplicates++;
                }
            }
            if (retained != manifest.Retained) Problem($"manifest says {manifest.Retained} retained, segments hold {retained}");
            if (maxEntries is { } max && retained > max) Problem($"{retained} samples retained, over MAX_ENTRIES {max}");
            if (torn) report.TornWindows++;
            report.Samples += retained;
            report.PerGpu[uuid] = new GpuAudit(uuid, retained, manifest.LastSeen);
        }
        return report;
    }

    /// <summary>Segment keys in a SQLite file that no manifest names: left by a crash between a commit and
    /// the clean-up after it. Garbage, not damage; counted for the report.</summary>
    public static async Task<int> CountOrphanSegmentsAsync(string databasePath, IKeyValueStore store)
    {
        var keys = new List<string>();
        using (var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT key FROM kv WHERE key LIKE 'gpu|%|s|%'";
            using var reader = command.ExecuteReader();
            while (reader.Read()) keys.Add(reader.GetString(0));
        }
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uuid in keys.Select(k => k.Split('|')[1]).Distinct())
        {
            if (await store.GetAsync(WindowKeys.Manifest(uuid)) is { } item)
            {
                foreach (var segment in WindowCodec.DecodeManifest(item.Value).Segments) named.Add(WindowKeys.Segment(uuid, segment.Id));
            }
        }
        return keys.Count(k => !named.Contains(k));
    }
}
