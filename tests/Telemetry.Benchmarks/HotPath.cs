using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Benchmarks;

/// <summary>Shapes of data the hot path sees: 247 GPUs, 10 metrics, appends of a gathered queue.</summary>
internal static class HotPathData
{
    public static readonly string[] Metrics =
    [
        "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK",
    ];

    public static GpuIdentity Gpu(int i) => new(TestData.Uuid(i), $"bench-host-{i / 8:D4}", i % 8, $"nvidia{i % 8}", "NVIDIA H100 80GB HBM3",
        DriverVersion: "535.129.03");

    /// <summary>Samples stamped 1 µs apart like the streamer's clock under load, source time per scrape.</summary>
    public static MetricSample[] Samples(int count, long startTicks, int seed = 1)
    {
        var random = new Random(seed);
        var source = new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);
        var samples = new MetricSample[count];
        for (var i = 0; i < count; i++)
        {
            samples[i] = new MetricSample(new DateTime(startTicks + i * 10L, DateTimeKind.Utc), Metrics[i % Metrics.Length],
                random.Next(0, 2000), source.AddSeconds(i / 2470));
        }
        Array.Sort(samples, (a, b) => a.Timestamp != b.Timestamp ? a.Timestamp.CompareTo(b.Timestamp) : string.CompareOrdinal(a.MetricName, b.MetricName));
        return samples;
    }

    /// <summary>One gathered append: <paramref name="perGpu"/> new samples for each of <paramref name="gpus"/> GPUs.</summary>
    public static List<GpuSamples> Batch(int gpus, int perGpu, long startTicks)
    {
        var batch = new List<GpuSamples>(gpus);
        for (var g = 0; g < gpus; g++) batch.Add(new GpuSamples(Gpu(g), Samples(perGpu, startTicks + g, g)));
        return batch;
    }
}

/// <summary>The segment codec alone (encode and decode of one full 2,048-sample segment).</summary>
[MemoryDiagnoser]
public class SegmentCodecBenchmarks
{
    private MetricSample[] _samples = [];
    private byte[] _encoded = [];

    [GlobalSetup]
    public void Setup()
    {
        _samples = HotPathData.Samples(2048, DateTime.UtcNow.Ticks);
        _encoded = WindowCodec.Encode(_samples);
    }

    [Benchmark] public byte[] Encode() => WindowCodec.Encode(_samples);
    [Benchmark] public MetricSample[] Decode() => WindowCodec.DecodeSegment(_encoded);
}

/// <summary>Stopwatch breakdown of appends, used while optimising: `Telemetry.Benchmarks profile`.</summary>
internal static class HotPathProfile
{
    public static async Task RunAsync()
    {
        var samples = HotPathData.Samples(2048, DateTime.UtcNow.Ticks);
        var encoded = WindowCodec.Encode(samples);
        Time("segment encode", 2000, 2048, () => WindowCodec.Encode(samples));
        Time("segment decode", 2000, 2048, () => WindowCodec.DecodeSegment(encoded));
        Console.WriteLine($"  segment size: {encoded.Length / 2048.0:0.0} B/sample");
        Console.WriteLine($"  codec writes what the serializer writes: {encoded.AsSpan().SequenceEqual(SerializerEncode(samples))}");

        foreach (var perGpu in new[] { 40, 200 })
        {
            await AppendAsync("memory", new MemoryKeyValueStore(), perGpu);
            var dir = Directory.CreateTempSubdirectory("telemetry-profile-");
            using (var sqlite = new SqliteKeyValueStore(Path.Combine(dir.FullName, "t.db"))) await AppendAsync("sqlite", sqlite, perGpu);
            dir.Delete(true);
        }
    }

    private static async Task AppendAsync(string name, IKeyValueStore store, int perGpu)
    {
        var counting = new CountingStore(store);
        var writer = new WindowWriter(counting, new WindowOptions());
        var start = DateTime.UtcNow.Ticks;
        const int gpus = 247;
        var appends = 3_000_000 / (gpus * perGpu);
        var batches = new List<List<GpuSamples>>();
        for (var a = 0; a < appends; a++) batches.Add(HotPathData.Batch(gpus, perGpu, start + a * perGpu * 10L * gpus));
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        foreach (var batch in batches) await writer.AppendAsync(batch);
        var elapsed = clock.Elapsed.TotalSeconds;
        var total = appends * gpus * perGpu;
        Console.WriteLine($"  {name,-6} {perGpu,4}/GPU/append: {total / elapsed,12:N0} samples/s, " +
            $"{(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / total * 1e6:0.00} us CPU/sample; store: {counting.Describe(total)}; " +
            $"in store {counting.BytesInStoreEstimate / (double)Math.Min(total, gpus * 10_000):0.0} B/sample");
    }

    /// <summary>The segment as System.Text.Json serialises the document: the format the codec must keep.</summary>
    private static byte[] SerializerEncode(MetricSample[] samples)
    {
        var metrics = new List<string>();
        var document = new SegmentDocument
        {
            Times = new long[samples.Length], MetricIndex = new int[samples.Length],
            Values = new double[samples.Length], SourceTimes = new long?[samples.Length],
        };
        long previousTime = 0, previousSource = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var id = metrics.IndexOf(samples[i].MetricName);
            if (id < 0) { id = metrics.Count; metrics.Add(samples[i].MetricName); }
            document.Times[i] = samples[i].Timestamp.Ticks - previousTime;
            previousTime = samples[i].Timestamp.Ticks;
            document.MetricIndex[i] = id;
            document.Values[i] = samples[i].Value;
            if (samples[i].SourceTimestamp is { } source) { document.SourceTimes[i] = source.Ticks - previousSource; previousSource = source.Ticks; }
        }
        document.Metrics = [.. metrics];
        return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(document, WindowJsonContext.Default.SegmentDocument);
    }

    private static void Time(string what, int repeats, int perOp, Action action)
    {
        action();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < repeats; i++) action();
        Console.WriteLine($"  {what}: {clock.Elapsed.TotalMilliseconds * 1e6 / (repeats * (double)perOp):0.0} ns/sample");
    }
}

/// <summary>Counts the round trips and bytes the window store makes, then forwards them.</summary>
internal sealed class CountingStore(IKeyValueStore inner) : IKeyValueStore
{
    public long Gets, GetMany, Executes, Operations, BytesWritten, BytesRead;
    private readonly Dictionary<string, int> _sizes = new(StringComparer.Ordinal);
    public long BytesInStoreEstimate { get { lock (_sizes) return _sizes.Values.Sum(v => (long)v); } }

    public async Task<StoredItem?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Gets);
        var item = await inner.GetAsync(key, cancellationToken);
        if (item is not null) Interlocked.Add(ref BytesRead, item.Value.Length);
        return item;
    }

    public async Task<IReadOnlyDictionary<string, StoredItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref GetMany);
        var items = await inner.GetManyAsync(keys, cancellationToken);
        foreach (var item in items.Values) Interlocked.Add(ref BytesRead, item.Value.Length);
        return items;
    }

    public async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        await inner.ExecuteAsync(operations, cancellationToken);
        Interlocked.Increment(ref Executes);
        Interlocked.Add(ref Operations, operations.Count);
        lock (_sizes)
        {
            foreach (var operation in operations)
            {
                if (operation is UpsertOperation upsert)
                {
                    BytesWritten += upsert.Value.Length;
                    _sizes[upsert.Key] = upsert.Value.Length;
                }
                else _sizes.Remove(operation.Key);
            }
        }
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken = default) => inner.PingAsync(cancellationToken);

    public string Describe(long samples) =>
        $"{(Gets + GetMany + Executes) * 1000.0 / samples:0.00} calls/1k samples, {Operations * 1000.0 / samples:0.0} ops/1k, " +
        $"{BytesWritten / (double)samples:0.0} B written/sample, {BytesRead / (double)samples:0.0} B read/sample";
}
