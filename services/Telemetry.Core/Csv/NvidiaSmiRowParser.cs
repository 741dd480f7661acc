using System.Text;
using CsvHelper;
using Telemetry.Core.Model;

namespace Telemetry.Core.Csv;

/// <summary><c>nvidia-smi --query-gpu=... --format=csv[,nounits]</c> logs: one line is one GPU at one instant,
/// expanded to one metric per numeric column. Which columns appear is up to whoever ran nvidia-smi, so
/// columns are classified from the header once and each line only walks the metric columns.</summary>
internal sealed class NvidiaSmiRowParser : RowParser
{
    private static readonly string[] TimestampFormats = ["yyyy/MM/dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFFF"];

    /// <summary>nvidia-smi fields with a clear DCGM equivalent take the DCGM name, so samples from both
    /// sources land in the same series.</summary>
    internal static readonly IReadOnlyDictionary<string, string> DcgmNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["utilization.gpu"] = "DCGM_FI_DEV_GPU_UTIL",
        ["utilization.memory"] = "DCGM_FI_DEV_MEM_COPY_UTIL",
        ["utilization.encoder"] = "DCGM_FI_DEV_ENC_UTIL",
        ["utilization.decoder"] = "DCGM_FI_DEV_DEC_UTIL",
        ["memory.used"] = "DCGM_FI_DEV_FB_USED",
        ["memory.free"] = "DCGM_FI_DEV_FB_FREE",
        ["memory.total"] = "DCGM_FI_DEV_FB_TOTAL",
        ["memory.reserved"] = "DCGM_FI_DEV_FB_RESERVED",
        ["temperature.gpu"] = "DCGM_FI_DEV_GPU_TEMP",
        ["temperature.memory"] = "DCGM_FI_DEV_MEMORY_TEMP",
        ["power.draw"] = "DCGM_FI_DEV_POWER_USAGE",
        ["power.draw.instant"] = "DCGM_FI_DEV_POWER_USAGE_INSTANT",
        ["enforced.power.limit"] = "DCGM_FI_DEV_POWER_MGMT_LIMIT",
        ["power.limit"] = "DCGM_FI_DEV_POWER_MGMT_LIMIT",
        ["power.min_limit"] = "DCGM_FI_DEV_POWER_MGMT_LIMIT_MIN",
        ["power.max_limit"] = "DCGM_FI_DEV_POWER_MGMT_LIMIT_MAX",
        ["power.default_limit"] = "DCGM_FI_DEV_POWER_MGMT_LIMIT_DEF",
        ["clocks.current.sm"] = "DCGM_FI_DEV_SM_CLOCK",
        ["clocks.sm"] = "DCGM_FI_DEV_SM_CLOCK",
        ["clocks.current.memory"] = "DCGM_FI_DEV_MEM_CLOCK",
        ["clocks.mem"] = "DCGM_FI_DEV_MEM_CLOCK",
        ["clocks.max.sm"] = "DCGM_FI_DEV_MAX_SM_CLOCK",
        ["clocks.max.memory"] = "DCGM_FI_DEV_MAX_MEM_CLOCK",
        ["clocks.max.mem"] = "DCGM_FI_DEV_MAX_MEM_CLOCK",
        ["fan.speed"] = "DCGM_FI_DEV_FAN_SPEED",
        ["pcie.link.gen.current"] = "DCGM_FI_DEV_PCIE_LINK_GEN",
        ["pcie.link.width.current"] = "DCGM_FI_DEV_PCIE_LINK_WIDTH",
        ["ecc.errors.corrected.volatile.total"] = "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        ["ecc.errors.uncorrected.volatile.total"] = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        ["ecc.errors.corrected.aggregate.total"] = "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
        ["ecc.errors.uncorrected.aggregate.total"] = "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
    };

    /// <summary>Columns that describe the board rather than measure it. Some look numeric (a serial number,
    /// a PCI domain), which is exactly why they must not become metrics.</summary>
    private static readonly string[] DescriptiveColumns = ["serial", "gpu_serial", "vbios_version", "pci.", "inforom.", "driver_model."];

    private const string PstateMetric = "nvidia_smi_pstate";

    private readonly string _hostname;
    private readonly int _timestamp, _uuid, _name = -1, _index = -1, _busId = -1, _driver = -1;
    private readonly MetricColumn[] _metrics;
    private readonly MetricValue[] _scratch;
    private readonly Utf8Cache<GpuIdentity> _gpus = new();
    private readonly KeyBuilder _key = new();
    private readonly LastSeen<DateTime> _lastTimestamp = new();

    /// <param name="header">The header names, trimmed. Must contain 'timestamp' and 'uuid'.</param>
    public NvidiaSmiRowParser(string source, IReadOnlyList<string> header, string hostname) : base(source, header.Count)
    {
        _hostname = hostname;
        _timestamp = _uuid = -1;
        var metrics = new List<MetricColumn>();
        var seenNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < header.Count; i++)
        {
            var (field, unit) = SplitUnit(header[i]);
            switch (field)
            {
                case "timestamp": _timestamp = i; continue;
                case "uuid" or "gpu_uuid": _uuid = i; continue;
                case "name" or "gpu_name": _name = i; continue;
                case "index": _index = i; continue;
                case "pci.bus_id" or "gpu_bus_id": _busId = i; continue;
                case "driver_version": _driver = i; continue;
            }
            if (IsDescriptive(field)) continue;

            var isPstate = field.Equals("pstate", StringComparison.OrdinalIgnoreCase);
            var mapped = DcgmNames.GetValueOrDefault(field);
            var name = isPstate ? PstateMetric : mapped ?? NormalisedName(field);
            // Aliases (clocks.sm and clocks.current.sm) would give a line two values for one metric.
            if (!seenNames.Add(name)) continue;
            // A unit in the header or a known DCGM field means the column is a measurement: text in it is a
            // broken line. Other columns (compute_mode, display_active, ...) may be text and are then skipped.
            var strict = unit.Length > 0 || mapped is not null;
            metrics.Add(new MetricColumn(i, name, header[i], Encoding.UTF8.GetBytes(unit), strict, isPstate));
        }
        if (_timestamp < 0 || _uuid < 0) throw new ArgumentException("an nvidia-smi header needs 'timestamp' and 'uuid'", nameof(header));
        _metrics = [.. metrics];
        _scratch = new MetricValue[_metrics.Length];
    }

    /// <summary>"clocks.current.video" -> "nvidia_smi_clocks_current_video": lower case, every run of other
    /// characters one '_', so the name is safe as a metric or label name anywhere downstream.</summary>
    internal static string NormalisedName(string field)
    {
        var sb = new StringBuilder("nvidia_smi_", 11 + field.Length);
        foreach (var c in field.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c)) sb.Append(c);
            else if (sb[^1] != '_') sb.Append('_');
        }
        return sb.ToString().TrimEnd('_');
    }

    /// <summary>"memory.used [MiB]" -> ("memory.used", "MiB").</summary>
    internal static (string Field, string Unit) SplitUnit(string header)
    {
        var open = header.IndexOf('[');
        if (open < 0 || !header.EndsWith(']')) return (header.Trim(), "");
        return (header[..open].Trim(), header[(open + 1)..^1].Trim());
    }

    private static bool IsDescriptive(string field)
    {
        foreach (var prefix in DescriptiveColumns)
        {
            if (prefix.EndsWith('.') ? field.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                                     : field.Equals(prefix, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>nvidia-smi writes "[N/A]", "[Not Supported]", "[Unknown Error]", ... (or bare "N/A") where it
    /// has no value: the metric is absent for that line, which is not an error.</summary>
    private static bool IsMissing(ReadOnlySpan<byte> value) =>
        value.IsEmpty || (value[0] == (byte)'[' && value[^1] == (byte)']') || value.SequenceEqual("N/A"u8) ||
        value.SequenceEqual("Not Supported"u8);

    public override CsvReadResult Parse(CsvReader csv, long line)
    {
        if (WrongFieldCount(csv, line, out var error)) return error;

        var uuid = Utf8Fields.Trim(csv.GetSpan(_uuid));
        if (IsMissing(uuid)) return Fail(line, "missing uuid (the GPU's identity)", "uuid");

        var timestampText = Utf8Fields.Trim(csv.GetSpan(_timestamp));
        if (!_lastTimestamp.TryGet(timestampText, out var timestamp))
        {
            if (!Utf8Fields.TryParseUtc(timestampText, TimestampFormats, out timestamp))
            {
                if (timestampText.SequenceEqual("timestamp"u8)) return default; // header repeated by a concatenation
                return Fail(line, $"found {Utf8Fields.Describe(timestampText)}; a timestamp like 2026/11/26 18:37:31.665 was expected", "timestamp");
            }
            _lastTimestamp.Set(timestampText, timestamp);
        }

        var gpuIndex = -1;
        var indexText = _index < 0 ? default : Utf8Fields.Trim(csv.GetSpan(_index));
        if (_index >= 0 && !Utf8Fields.TryParseIndex(indexText, out gpuIndex))
            return Fail(line, $"found {Utf8Fields.Describe(indexText)}; a non-negative integer GPU index was expected", "index");

        var count = 0;
        foreach (var column in _metrics)
        {
            var text = Utf8Fields.Trim(csv.GetSpan(column.Index));
            if (IsMissing(text)) continue;
            if (column.IsPstate)
            {
                // "P0".."P15": kept as the number because it orders (P0 is full performance, P12 idle).
                if (text.Length > 1 && text[0] == (byte)'P' && Utf8Fields.TryParseIndex(text[1..], out var state))
                    _scratch[count++] = new MetricValue(column.Name, state);
                continue;
            }
            // Without 'nounits' the value repeats the header's unit ("45 %", "1234 MiB").
            var number = text;
            if (column.Unit.Length > 0 && number.EndsWith(column.Unit)) number = Utf8Fields.Trim(number[..^column.Unit.Length]);
            if (Utf8Fields.TryParseDouble(number, out var value))
                _scratch[count++] = new MetricValue(column.Name, value);
            else if (column.Strict)
                return Fail(line, $"found {Utf8Fields.Describe(text)}; a number was expected", column.Header);
        }

        var gpu = Identity(csv, uuid, indexText, gpuIndex);
        return new CsvReadResult(new TelemetryRow(gpu, timestamp, _scratch.AsSpan(0, count).ToArray(), line), null);
    }

    private GpuIdentity Identity(CsvReader csv, ReadOnlySpan<byte> uuid, ReadOnlySpan<byte> indexText, int gpuIndex)
    {
        var name = Optional(csv, _name);
        var busId = Optional(csv, _busId);
        var driver = Optional(csv, _driver);
        var key = _key.Reset().Add(indexText).Add(name).Add(busId).Add(driver).Add(uuid).Key; // uuid last: see DcgmRowParser
        if (_gpus.TryGet(key, out var gpu)) return gpu;

        gpu = new GpuIdentity(
            Uuid: Encoding.UTF8.GetString(uuid),
            Hostname: _hostname,
            GpuIndex: gpuIndex,
            // nvidia-smi has no device name; this is the one dcgm-exporter gives the same GPU.
            Device: gpuIndex >= 0 ? $"nvidia{gpuIndex}" : "unknown",
            Model: name.IsEmpty ? "unknown" : Encoding.UTF8.GetString(name),
            PciBusId: busId.IsEmpty ? null : Encoding.UTF8.GetString(busId),
            DriverVersion: driver.IsEmpty ? null : Encoding.UTF8.GetString(driver));
        _gpus.Add(key, gpu);
        return gpu;
    }

    /// <summary>A trimmed identity field, empty when the column is absent or nvidia-smi had no value.</summary>
    private static ReadOnlySpan<byte> Optional(CsvReader csv, int index)
    {
        if (index < 0) return default;
        var text = Utf8Fields.Trim(csv.GetSpan(index));
        return IsMissing(text) ? default : text;
    }

    private sealed record MetricColumn(int Index, string Name, string Header, byte[] Unit, bool Strict, bool IsPstate);
}
