using System.Text;

namespace Telemetry.Core.Windows;

/// <summary>The key layout. A GPU's window is a manifest plus segments; the directory lists every GPU
/// in a fixed number of buckets so listing costs one bulk read however many GPUs there are.</summary>
internal static class WindowKeys
{
    public const int DirectoryBuckets = 64;

    public const string GpuPrefix = "gpu|";
    public const string ManifestSuffix = "|m";
    public const string SegmentInfix = "|s|";

    public static string Manifest(string uuid) => $"{GpuPrefix}{uuid}{ManifestSuffix}";

    public static string Segment(string uuid, string segmentId) => $"{GpuPrefix}{uuid}{SegmentInfix}{segmentId}";

    public static string DirectoryBucket(int bucket) => $"gpus|{bucket:D2}";

    public static IReadOnlyCollection<string> AllDirectoryBuckets { get; } =
        [.. Enumerable.Range(0, DirectoryBuckets).Select(DirectoryBucket)];

    /// <summary>FNV-1a of the uuid: stable across processes and restarts, unlike string.GetHashCode.</summary>
    public static int BucketOf(string uuid)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(uuid))
        {
            hash = (hash ^ b) * 16777619u;
        }
        return (int)(hash % DirectoryBuckets);
    }
}
