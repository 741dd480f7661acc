using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Windows;

/// <summary>Deterministic samples shaped like the DCGM reference file.</summary>
public static class WindowTestData
{
    public static readonly DateTime Origin = new(2025, 7, 18, 13, 42, 33, DateTimeKind.Utc);

    /// <summary>In ordinal order, so metric index order is the store's order within an instant.</summary>
    public static readonly string[] Metrics = Ordinal(
    [
        "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL",
        "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK",
    ]);

    private static string[] Ordinal(string[] names) => [.. names.Order(StringComparer.Ordinal)];

    public static GpuIdentity Gpu(int host, int index) =>
        new($"GPU-{host:D4}{index:D4}-5b9e-4f3c-a1d2-{host * 8 + index:D12}", $"mtv5-dgx1-hgpu-{host:D3}", index,
            $"nvidia{index}", "NVIDIA H100 80GB HBM3");

    /// <summary>The sample of <paramref name="metric"/> at second <paramref name="instant"/>; its value
    /// depends only on (gpu, instant, metric), so a redelivered copy is identical.</summary>
    public static MetricSample Sample(int instant, int metric, int gpu = 0) =>
        new(Origin.AddTicks(instant * TimeSpan.TicksPerSecond + 1234),
            Metrics[metric],
            Math.Round(gpu * 1000 + instant * 1.25 + metric * 0.037 + 0.001, 3),
            Origin.AddDays(-1).AddTicks(instant * TimeSpan.TicksPerSecond + 567));

    /// <summary>Every metric of the instants [from, to) for one GPU.</summary>
    public static List<MetricSample> Instants(int from, int to, int metrics = 10, int gpu = 0)
    {
        var samples = new List<MetricSample>();
        for (var instant = from; instant < to; instant++)
        {
            for (var metric = 0; metric < metrics; metric++) samples.Add(Sample(instant, metric, gpu));
        }
        return samples;
    }

    public static TelemetryQuery Everything => new(Limit: 1_000_000);

    public static async Task<List<MetricSample>> ReadAllAsync(WindowReader reader, string uuid)
    {
        var page = await reader.QueryAsync(uuid, Everything);
        Assert.NotNull(page);
        Assert.Null(page.Next);
        return [.. page.Samples];
    }

    internal static async Task<WindowManifest?> ManifestAsync(IKeyValueStore store, string uuid)
    {
        var item = await store.GetAsync(WindowKeys.Manifest(uuid));
        return item is null ? null : WindowCodec.DecodeManifest(item.Value);
    }
}

/// <summary>The reference model: a window is the MaxEntries greatest distinct samples by (ticks, metric)
/// ever offered, whatever the order or repetition.</summary>
public sealed class ReferenceWindows(int maxEntries)
{
    private static readonly Comparer<(long Ticks, string Metric)> KeyOrder = Comparer<(long Ticks, string Metric)>.Create(
        (a, b) => a.Ticks != b.Ticks ? a.Ticks.CompareTo(b.Ticks) : string.CompareOrdinal(a.Metric, b.Metric));

    private readonly Dictionary<string, SortedDictionary<(long, string), MetricSample>> _offered = new(StringComparer.Ordinal);

    public IEnumerable<string> Uuids => _offered.Keys;

    public void Offer(IEnumerable<GpuSamples> batch)
    {
        foreach (var group in batch)
        {
            if (!_offered.TryGetValue(group.Gpu.Uuid, out var samples))
            {
                _offered[group.Gpu.Uuid] = samples = new SortedDictionary<(long, string), MetricSample>(KeyOrder);
            }
            foreach (var sample in group.Samples) samples.TryAdd((sample.Timestamp.Ticks, sample.MetricName), sample);
        }
    }

    public List<MetricSample> Expected(string uuid) =>
        _offered.TryGetValue(uuid, out var samples) ? [.. samples.Values.TakeLast(maxEntries)] : [];
}
