using System.Globalization;
using BenchmarkDotNet.Attributes;
using CsvHelper;
using Telemetry.Core.Csv;

namespace Telemetry.Benchmarks;

/// <summary>Figure 1, DCGM: the streamer's reader against a bare CsvHelper read of the same bytes into the
/// same fields (the GPU identity strings, metric name, index, value and timestamp, parsed by CsvHelper's own
/// parsers, with CsvHelper's string pooling on). Each operation reads the whole ≥ 1M-row input.</summary>
[MemoryDiagnoser]
public class DcgmReadBenchmarks
{
    public static int MinRows { get; set; } = 1_000_000;
    private byte[] _bytes = [];
    public int Rows { get; private set; }

    [GlobalSetup]
    public void Setup() => (_bytes, Rows) = TestData.DcgmRepeated(MinRows);

    [Benchmark(Baseline = true)]
    public long BareCsvHelper() => CsvBaselines.ReadDcgm(_bytes);

    [Benchmark]
    public long TelemetryReader() => CsvBaselines.ReadWithTelemetryReader(_bytes);
}

/// <summary>Figure 1, nvidia-smi: the same comparison on a generated log (units in values, ", " separators).</summary>
[MemoryDiagnoser]
public class NvidiaSmiReadBenchmarks
{
    public static int Rows { get; set; } = 1_000_000;
    private byte[] _bytes = [];

    [GlobalSetup]
    public void Setup() => _bytes = TestData.NvidiaSmiLog(Rows);

    [Benchmark(Baseline = true)]
    public long BareCsvHelper() => CsvBaselines.ReadNvidiaSmi(_bytes);

    [Benchmark]
    public long TelemetryReader() => CsvBaselines.ReadWithTelemetryReader(_bytes);
}

internal static class CsvBaselines
{
    private static readonly string[] DcgmTimestamp = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK"];
    private static readonly string[] SmiTimestamp = ["yyyy/MM/dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFFF"];

    /// <summary>Returns samples read (a checksum that keeps the work observable).</summary>
    public static long ReadWithTelemetryReader(byte[] bytes)
    {
        using var reader = TelemetryCsvReader.Open(new MemoryStream(bytes, writable: false), "bench.csv", new TelemetryCsvOptions("bench-host"));
        long samples = 0;
        foreach (var result in reader.ReadAll())
        {
            if (result.Row is { } row) samples += row.Metrics.Count;
        }
        return samples;
    }

    public static long ReadDcgm(byte[] bytes)
    {
        using var csv = CsvReader.Create(new MemoryStream(bytes, writable: false),
            new CsvReaderOptions { Separator = ',', HasHeader = true, PoolStrings = true });
        int ts = csv.GetFieldIndex("timestamp"), metric = csv.GetFieldIndex("metric_name"), gpuId = csv.GetFieldIndex("gpu_id"),
            device = csv.GetFieldIndex("device"), uuid = csv.GetFieldIndex("uuid"), model = csv.GetFieldIndex("modelName"),
            host = csv.GetFieldIndex("Hostname"), value = csv.GetFieldIndex("value");
        long samples = 0;
        while (csv.Read())
        {
            var row = new BareDcgmRow(
                csv.ParseExact<DateTimeOffset>(ts, DcgmTimestamp).UtcDateTime,
                csv.GetString(metric),
                csv.Parse<int>(gpuId),
                csv.GetString(device),
                csv.GetString(uuid),
                csv.GetString(model),
                csv.GetString(host),
                csv.Parse<double>(value));
            if (row.Uuid.Length > 0) samples++;
        }
        return samples;
    }

    public static long ReadNvidiaSmi(byte[] bytes)
    {
        using var csv = CsvReader.Create(new MemoryStream(bytes, writable: false),
            new CsvReaderOptions { Separator = ',', HasHeader = true, PoolStrings = true, TrimWhitespace = true });
        var header = csv.Headers;
        int ts = -1, name = -1, bus = -1, driver = -1, uuid = -1, index = -1, pstate = -1;
        var metricColumns = new List<(int Index, byte[] Unit)>();
        for (var i = 0; i < header.Count; i++)
        {
            var h = header[i].Trim();
            var open = h.IndexOf('[');
            var field = open < 0 ? h : h[..open].Trim();
            var unit = open < 0 ? "" : h[(open + 1)..^1];
            switch (field)
            {
                case "timestamp": ts = i; break;
                case "name": name = i; break;
                case "pci.bus_id": bus = i; break;
                case "driver_version": driver = i; break;
                case "uuid": uuid = i; break;
                case "index": index = i; break;
                case "pstate": pstate = i; break;
                default: metricColumns.Add((i, System.Text.Encoding.UTF8.GetBytes(" " + unit))); break;
            }
        }
        var values = new double[metricColumns.Count];
        long samples = 0;
        while (csv.Read())
        {
            var at = csv.ParseExact<DateTime>(ts, SmiTimestamp);
            var gpu = (csv.GetString(name), csv.GetString(bus), csv.GetString(driver), csv.GetString(uuid), csv.Parse<int>(index));
            var count = 0;
            var p = csv.GetSpan(pstate);
            if (p.Length > 1 && p[0] == (byte)'P' && int.TryParse(p[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var state)) values[count++] = state;
            foreach (var (column, unit) in metricColumns)
            {
                var text = csv.GetSpan(column);
                if (text.IsEmpty || text[0] == (byte)'[') continue;
                if (unit.Length > 1 && text.EndsWith(unit)) text = text[..^unit.Length];
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) values[count++] = v;
            }
            if (gpu.Item4.Length > 0 && at.Ticks > 0) samples += count;
        }
        return samples;
    }

    private readonly record struct BareDcgmRow(DateTime Timestamp, string Metric, int GpuIndex, string Device, string Uuid,
        string Model, string Hostname, double Value);
}
