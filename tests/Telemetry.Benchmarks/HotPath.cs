using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Gateway;
using Telemetry.Storage.Sqlite;

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
        var json = SerializerEncode(samples);
        Time("segment decode, JSON format before issue 13", 2000, 2048, () => WindowCodec.DecodeSegment(json));
        Console.WriteLine($"  segment size: {encoded.Length / 2048.0:0.0} B/sample (JSON format: {json.Length / 2048.0:0.0})");
        Console.WriteLine($"  both formats decode to the same samples: {WindowCodec.DecodeSegment(json).SequenceEqual(WindowCodec.DecodeSegment(encoded))}");

        if (Environment.GetEnvironmentVariable("PROFILE_ONLY") == "write")
        {
            await WriteAnswerAsync();
            return;
        }
        if (Environment.GetEnvironmentVariable("PROFILE_ONLY") == "series")
        {
            await SeriesAnswerAsync();
            return;
        }
        if (Environment.GetEnvironmentVariable("PROFILE_ONLY") != "append") await QueryPathAsync();
        if (Environment.GetEnvironmentVariable("PROFILE_ONLY") == "query") return;
        foreach (var perGpu in new[] { 40, 200 })
        {
            await AppendAsync("memory", new MemoryKeyValueStore(), perGpu);
            var dir = Directory.CreateTempSubdirectory("telemetry-profile-");
            using (var sqlite = new SqliteKeyValueStore(Path.Combine(dir.FullName, "t.db"))) await AppendAsync("sqlite", sqlite, perGpu);
            dir.Delete(true);
        }
    }

    /// <summary>The read side of figure 5 step by step, in CPU time per operation (steadier than wall time
    /// on a shared machine): `PROFILE_ONLY=query Telemetry.Benchmarks profile`.</summary>
    private static async Task QueryPathAsync()
    {
        var bench = new QueryPathBenchmarks { Store = "sqlite" };
        bench.Setup();
        var listStore = new MemoryKeyValueStore();
        await WindowFill.FillAsync(listStore, 10_000, 10);
        var listing = new WindowReader(listStore);
        try
        {
            var steps = new (string, Func<Task>)[]
            {
                ("read manifest + segments", bench.ReadFullSegments), ("query full window", bench.QueryFull),
                ("write full window", bench.WriteFull), ("query 10% window", bench.QueryTenth),
                ("series full window", bench.SeriesFull), ("bucket + write its series", bench.WriteSeries),
                ("list 100 of 10,000 GPUs", () => ListGpusAsync(listing)),
            };
            // Best of five rounds, steps interleaved: the least disturbed measure of each.
            var best = steps.Select(_ => (Cpu: double.MaxValue, Wall: double.MaxValue)).ToArray();
            var gen2 = new int[steps.Length];
            for (var round = 0; round < 5; round++)
            {
                for (var s = 0; s < steps.Length; s++)
                {
                    await steps[s].Item2();
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var clock = Stopwatch.StartNew();
                    var collections = GC.CollectionCount(2);
                    const int rounds = 5; // each run is QueryPathBenchmarks.Repeats operations
                    for (var i = 0; i < rounds; i++) await steps[s].Item2();
                    var ops = rounds * 20.0;
                    gen2[s] += GC.CollectionCount(2) - collections;
                    best[s] = (Math.Min(best[s].Cpu, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / ops),
                        Math.Min(best[s].Wall, clock.Elapsed.TotalMilliseconds / ops));
                }
            }
            for (var s = 0; s < steps.Length; s++)
            {
                Console.WriteLine($"  {steps[s].Item1,-26} {best[s].Cpu,7:0.000} ms CPU/op, {best[s].Wall,7:0.000} ms wall/op (best of 5); {gen2[s] / 500.0:0.000} gen2 GCs/op");
            }
        }
        finally
        {
            bench.Cleanup();
        }
    }

    /// <summary>The telemetry endpoint's answer for a whole window (10,000 samples stamped like the streamer's) into a
    /// body that discards it, with no store behind it: `PROFILE_ONLY=write Telemetry.Benchmarks profile`.</summary>
    private static async Task WriteAnswerAsync()
    {
        var samples = HotPathData.Samples(10_000, DateTime.UtcNow.Ticks);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddTelemetryGateway().BuildServiceProvider(),
        };
        context.Response.Body = Stream.Null;
        Task WriteAsync() => new TelemetryResult("GPU-0", new(samples, null), 10_000, null).ExecuteAsync(context);
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(5);) await WriteAsync();
        for (var round = 0; round < 5; round++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            const int answers = 1000;
            for (var i = 0; i < answers; i++) await WriteAsync();
            var perSample = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / answers / samples.Length;
            Console.WriteLine($"  write a whole window's answer: {perSample:0.0} ns CPU/sample");
        }
    }

    /// <summary>Bucketing whole windows and writing their <c>/series</c> answers, over and over for 20 s, for a profiler to
    /// attach to: `PROFILE_ONLY=series Telemetry.Benchmarks profile`. With <c>PROFILE_DB</c> (an embedded host's
    /// telemetry.db) the windows are real ones read from it; otherwise the synthetic windows of the query benchmarks.</summary>
    private static async Task SeriesAnswerAsync()
    {
        var windows = new List<MetricSample[]>();
        if (Environment.GetEnvironmentVariable("PROFILE_DB") is { Length: > 0 } db)
        {
            using var store = new SqliteKeyValueStore(db);
            var reader = new WindowReader(store);
            var gpus = await reader.ListGpusAsync(new Telemetry.Core.Queries.GpuListQuery(Limit: 16));
            foreach (var gpu in gpus.Gpus)
            {
                using var page = await reader.QueryAsync(gpu.Gpu.Uuid, new(Limit: 10_000));
                windows.Add([.. page!.Samples]);
            }
        }
        else windows.Add(HotPathData.Samples(10_000, DateTime.UtcNow.Ticks));
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddTelemetryGateway().BuildServiceProvider(),
            Response = { Body = Stream.Null },
        };
        var next = 0;
        MetricSample[] Next() => windows[next++ % windows.Count];
        var steps = new (string Name, Func<Task> Run)[]
        {
            ("bucket a whole window into 500 points", () => { Telemetry.Core.Queries.SeriesBuilder.Build(Next(), null, null, 500).Dispose(); return Task.CompletedTask; }),
            ("bucket + write its series", () => new SeriesJsonResult("GPU-0", Telemetry.Core.Queries.SeriesBuilder.Build(Next(), null, null, 500)).ExecuteAsync(context)),
        };
        for (var round = 0; round < 5; round++)
        {
            foreach (var (name, run) in steps)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                var runs = 0;
                for (; clock.Elapsed < TimeSpan.FromSeconds(2); runs++) await run();
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                await run();
                allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
                Console.WriteLine($"  {name,-40} {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / runs:0.000} ms CPU each, {allocated:N0} B allocated");
            }
        }
    }

    private static async Task ListGpusAsync(WindowReader reader)
    {
        for (var i = 0; i < 20; i++) await reader.ListGpusAsync(new Telemetry.Core.Queries.GpuListQuery());
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

    /// <summary>The segment as System.Text.Json serialises the document: the format before issue 13, still read.</summary>
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

/// <summary>The read side of figure 5 without HTTP: full windows in the store, read and written as the
/// telemetry endpoint writes them. `Telemetry.Benchmarks micro --filter *QueryPath*`.</summary>
[MemoryDiagnoser]
public class QueryPathBenchmarks
{
    private const int Repeats = 20;
    private WindowReader _reader = null!;
    private IKeyValueStore _store = null!;
    private string? _dir;
    private Telemetry.Core.Queries.TelemetryQuery _full = null!, _tenth = null!;
    private readonly Telemetry.Core.Queries.SeriesQuery _series = new();
    private MetricSample[] _fullWindow = null!;
    private readonly Random _random = new(1);
    private Microsoft.AspNetCore.Http.DefaultHttpContext _context = null!;

    [Params("memory", "sqlite")] public string Store { get; set; } = "memory";

    [GlobalSetup]
    public void Setup()
    {
        if (Store == "sqlite")
        {
            _dir = Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
            _store = new SqliteKeyValueStore(Path.Combine(_dir, "t.db"));
        }
        else _store = new MemoryKeyValueStore();
        WindowFill.FillAsync(_store, 1000, 10_000).GetAwaiter().GetResult();
        _reader = new WindowReader(_store);
        _full = new(Limit: 10_000);
        var from = WindowFill.Origin.Ticks + 4_500L * WindowFill.Spacing;
        _tenth = new(new DateTime(from, DateTimeKind.Utc), new DateTime(from + 999L * WindowFill.Spacing, DateTimeKind.Utc), Limit: 10_000);
        // A copy the benchmark owns: writing a page gives the page's pooled arrays back, so each write gets a fresh
        // page over these samples (an array's page has nothing to give back).
        // Stamped like the streamer's processing times (seven-digit fractions) rather than the fill's whole
        // milliseconds, whose short text would flatter the time formatting; the jitter stays inside the spacing.
        using (var page = _reader.QueryAsync(TestData.Uuid(0), _full).GetAwaiter().GetResult()!)
            _fullWindow = [.. page.Samples.Select(s => s with { Timestamp = s.Timestamp.AddTicks(_random.Next(1, WindowFill.Spacing)) })];
        _context = new() { RequestServices = new ServiceCollection().AddLogging().AddTelemetryGateway().BuildServiceProvider() };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        (_store as IDisposable)?.Dispose();
        if (_dir is not null) Directory.Delete(_dir, true);
    }

    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task QueryFull()
    {
        for (var i = 0; i < Repeats; i++) await _reader.QueryAsync(TestData.Uuid(_random.Next(1000)), _full);
    }

    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task QueryTenth()
    {
        for (var i = 0; i < Repeats; i++) await _reader.QueryAsync(TestData.Uuid(_random.Next(1000)), _tenth);
    }

    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task ReadFullSegments()
    {
        for (var i = 0; i < Repeats; i++)
        {
            var uuid = TestData.Uuid(_random.Next(1000));
            var manifest = WindowCodec.DecodeManifest((await _store.GetAsync(WindowKeys.Manifest(uuid)))!.Value);
            await _store.GetManyAsync([.. manifest.Segments.Select(s => WindowKeys.Segment(uuid, s.Id))]);
        }
    }

    /// <summary>`GET …/series` of a whole window, 500 points, without the answer's writing: read and bucket.</summary>
    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task SeriesFull()
    {
        for (var i = 0; i < Repeats; i++) (await _reader.ReadSeriesAsync(TestData.Uuid(_random.Next(1000)), _series))?.Dispose();
    }

    /// <summary>Bucketing a whole window (read once, in Setup) into 500 points and writing the answer into a body that
    /// discards it: a series gives its pooled points back once written, so each write needs one built afresh.</summary>
    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task WriteSeries()
    {
        for (var i = 0; i < Repeats; i++)
        {
            _context.Response.Body = Stream.Null;
            await new SeriesJsonResult("GPU-0", Telemetry.Core.Queries.SeriesBuilder.Build(_fullWindow, null, null, 500)).ExecuteAsync(_context);
        }
    }

    [Benchmark(OperationsPerInvoke = Repeats)]
    public async Task WriteFull()
    {
        for (var i = 0; i < Repeats; i++)
        {
            _context.Response.Body = Stream.Null;
            await new TelemetryResult("GPU-0", new(_fullWindow, null), 10_000, null).ExecuteAsync(_context);
        }
    }
}
