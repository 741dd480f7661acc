using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CsvHelper;
using Telemetry.Core.Model;

namespace Telemetry.Core.Csv;

/// <summary>dcgm-exporter dumps: one line is one metric of one GPU.</summary>
internal sealed class DcgmRowParser : RowParser
{
    public static readonly string[] RequiredColumns =
        ["timestamp", "metric_name", "gpu_id", "device", "uuid", "modelName", "Hostname", "value"];

    // RFC 3339 with or without fractional seconds; a missing offset is taken as UTC.
    private static readonly string[] TimestampFormats = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK"];
    private static ReadOnlySpan<byte> DriverLabel => "DCGM_FI_DRIVER_VERSION="u8;

    private readonly int _timestamp, _metric, _gpuId, _device, _uuid, _model, _host, _value, _labels;
    private readonly int _blockFirst, _blockLast; // the span of identity columns
    private readonly bool _contiguous;
    private readonly Utf8Cache<GpuIdentity> _gpus = new();
    private readonly Utf8Cache<string> _metricNames = new();
    private readonly KeyBuilder _key = new();
    private readonly LastSeen<DateTime> _lastTimestamp = new();
    private readonly LastSeen<string> _lastMetric = new();

    /// <param name="columns">Header name to index; must hold every <see cref="RequiredColumns"/> entry.</param>
    public DcgmRowParser(string source, IReadOnlyDictionary<string, int> columns, int headerFieldCount)
        : base(source, headerFieldCount)
    {
        _timestamp = columns["timestamp"];
        _metric = columns["metric_name"];
        _gpuId = columns["gpu_id"];
        _device = columns["device"];
        _uuid = columns["uuid"];
        _model = columns["modelName"];
        _host = columns["Hostname"];
        _value = columns["value"];
        _labels = columns.GetValueOrDefault("labels_raw", -1);

        // In dcgm-exporter's layout the identity columns (gpu_id..Hostname) are adjacent, so the raw bytes
        // from the first to the last are one span of the record: a ready-made cache key, nothing copied.
        int[] identity = [_gpuId, _device, _uuid, _model, _host];
        _blockFirst = identity.Min();
        _blockLast = identity.Max();
        _contiguous = _blockLast - _blockFirst == identity.Length - 1;
    }

    public override CsvReadResult Parse(CsvReader csv, long line)
    {
        if (WrongFieldCount(csv, line, out var error)) return error;

        var timestampText = csv.GetSpan(_timestamp);
        if (!_lastTimestamp.TryGet(timestampText, out var timestamp))
        {
            if (!Utf8Fields.TryParseUtc(timestampText, TimestampFormats, out timestamp))
            {
                if (timestampText.SequenceEqual("timestamp"u8)) return default; // header repeated by a concatenation
                return Fail(line, $"found {Utf8Fields.Describe(timestampText)}; an RFC 3339 timestamp was expected", "timestamp");
            }
            _lastTimestamp.Set(timestampText, timestamp);
        }

        var metricText = csv.GetSpan(_metric);
        if (metricText.IsEmpty) return Fail(line, "missing metric name", "metric_name");

        var valueText = csv.GetSpan(_value);
        if (!Utf8Fields.TryParseDouble(valueText, out var value))
            return Fail(line, $"found {Utf8Fields.Describe(valueText)}; a number was expected", "value");

        if (!_lastMetric.TryGet(metricText, out var metricName))
        {
            if (!_metricNames.TryGet(metricText, out metricName))
            {
                metricName = csv.GetString(_metric);
                _metricNames.Add(metricText, metricName);
            }
            _lastMetric.Set(metricText, metricName);
        }

        if (!TryIdentity(csv, line, out var gpu, out error)) return error;
        return new CsvReadResult(new TelemetryRow(gpu, timestamp, [new MetricValue(metricName, value)], line), null);
    }

    /// <summary>The GPU of this line, built once per distinct combination of identity columns (the same uuid
    /// under another host is a different identity). uuid and gpu_id are only validated when the identity
    /// columns differ from every line read so far: an identical set was validated on its first line.
    /// The driver version is read from labels_raw only until it is known: searching that long field on every
    /// line would cost more than the rest of the line, and a driver cannot change within one scrape.</summary>
    private bool TryIdentity(CsvReader csv, long line, [NotNullWhen(true)] out GpuIdentity? gpu, out CsvReadResult error)
    {
        error = default;
        gpu = null;
        // Raw bytes (quotes and all) make a fine key: a line quoting differently only misses the cache and
        // builds an equal identity.
        ReadOnlySpan<byte> key = default;
        var keyed = _contiguous && TryRawBlock(csv, _blockFirst, _blockLast, out key);
        var hit = keyed && _gpus.TryGet(key, out gpu);
        if (hit && (gpu!.DriverVersion is not null || _labels < 0)) return true;

        var uuid = csv.GetSpan(_uuid);
        if (uuid.IsEmpty)
        {
            error = Fail(line, "missing uuid (the GPU's identity)", "uuid");
            gpu = null;
            return false;
        }
        var gpuIdText = csv.GetSpan(_gpuId);
        if (!Utf8Fields.TryParseIndex(gpuIdText, out var gpuIndex))
        {
            error = Fail(line, $"found {Utf8Fields.Describe(gpuIdText)}; a non-negative integer GPU index was expected", "gpu_id");
            gpu = null;
            return false;
        }
        if (!keyed)
        {
            // uuid last, since the key's hash samples its tail.
            key = _key.Reset().Add(csv.GetSpan(_host)).Add(gpuIdText).Add(csv.GetSpan(_device)).Add(csv.GetSpan(_model)).Add(uuid).Key;
            hit = _gpus.TryGet(key, out gpu);
            if (hit && (gpu!.DriverVersion is not null || _labels < 0)) return true;
        }

        var driver = _labels < 0 ? default : DriverVersion(csv.GetRawSpan(_labels));
        if (hit)
        {
            if (driver.IsEmpty) return gpu is not null; // always true on a hit; spelled out for the compiler
            gpu = gpu! with { DriverVersion = Encoding.UTF8.GetString(driver) };
        }
        else
        {
            gpu = new GpuIdentity(
                Uuid: csv.GetString(_uuid),
                Hostname: csv.GetString(_host),
                GpuIndex: gpuIndex,
                Device: csv.GetString(_device),
                Model: csv.GetString(_model),
                PciBusId: null,
                DriverVersion: driver.IsEmpty ? null : Encoding.UTF8.GetString(driver));
        }
        _gpus.Add(key, gpu);
        return true;
    }

    /// <summary>The raw bytes of the current record from the start of field <paramref name="first"/> to the end
    /// of field <paramref name="last"/>, separators included. False if the fields do not lie inside the raw
    /// record as expected (defensive: then the caller builds a key by copying).</summary>
    private static bool TryRawBlock(CsvReader csv, int first, int last, out ReadOnlySpan<byte> block)
    {
        var record = csv.RawRecord;
        ref var origin = ref MemoryMarshal.GetReference(record);
        var firstField = csv.GetRawSpan(first);
        var lastField = csv.GetRawSpan(last);
        var start = (int)Unsafe.ByteOffset(ref origin, ref MemoryMarshal.GetReference(firstField));
        var end = (int)Unsafe.ByteOffset(ref origin, ref MemoryMarshal.GetReference(lastField)) + lastField.Length;
        var ok = start >= 0 && end <= record.Length && start <= end;
        block = ok ? record[start..end] : default;
        return ok;
    }

    /// <summary>The value of DCGM_FI_DRIVER_VERSION inside labels_raw. Searching the raw field skips
    /// un-escaping its doubled quotes; the value is what lies between the quotes after the '='.</summary>
    private static ReadOnlySpan<byte> DriverVersion(ReadOnlySpan<byte> rawLabels)
    {
        var at = rawLabels.IndexOf(DriverLabel);
        if (at < 0) return default;
        var rest = rawLabels[(at + DriverLabel.Length)..].TrimStart((byte)'"');
        var end = rest.IndexOfAny((byte)'"', (byte)',');
        return end < 0 ? rest : rest[..end];
    }
}
