using System.Globalization;
using System.Text;

namespace Telemetry.Reliability.Tests.Support;

/// <summary>What one generated line should become.</summary>
internal enum LineKind { Good, Bad, Neutral, Fatal }

internal sealed record ExpectedLine(long Line, LineKind Kind, string Mutation, string? Uuid = null, string? Metric = null, double Value = 0);

/// <summary>A generated DCGM file and what a correct reader must make of it.</summary>
internal sealed record CsvCase(int Seed, byte[] Bytes, List<ExpectedLine> Expected, string Description);

/// <summary>
/// Builds DCGM files mixing known-good rows with rows broken in ways that stay within their own line (bad
/// timestamp, value, uuid, metric, gpu_id; too few or thousands of fields; a line cut short), neutral lines
/// (blank, a repeated header) and at most one fatal line (longer than the reader's record limit), under
/// random file-level dress: BOM, CRLF, final newline or not, quoted or bare fields.
/// </summary>
internal static class CsvCaseGenerator
{
    public const string Header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";
    private static readonly string[] Metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED"];
    private static readonly string[] Hosts = ["mtv5-dgx1-hgpu-031", "host-ü-ñ-7", "节点-3", "h"];

    public static CsvCase Oracle(int seed)
    {
        var random = new Random(seed);
        var crlf = random.Next(2) == 0;
        var bom = random.Next(3) == 0;
        var quoteAll = random.Next(2) == 0;
        var newline = crlf ? "\r\n"u8.ToArray() : "\n"u8.ToArray();
        var bytes = new List<byte>();
        if (bom) bytes.AddRange([0xEF, 0xBB, 0xBF]);
        bytes.AddRange(Encoding.UTF8.GetBytes(Header));
        var expected = new List<ExpectedLine>();
        var lines = random.Next(5, 120);
        var fatalAt = random.Next(12) == 0 ? random.Next(2, lines + 2) : -1;
        for (long line = 2; line < lines + 2; line++)
        {
            bytes.AddRange(newline);
            if (line == fatalAt)
            {
                // Longer than the 1 MiB record limit: reported at its line, and reading stops there.
                var huge = Row(random, quoteAll, out _, out _, out _);
                huge[^1] = new string('x', (1 << 20) + random.Next(1, 50_000));
                bytes.AddRange(Join(huge, quoteAll));
                expected.Add(new ExpectedLine(line, LineKind.Fatal, "huge line"));
                break;
            }
            var fields = Row(random, quoteAll, out var uuid, out var metric, out var value);
            var roll = random.Next(100);
            if (roll < 60)
            {
                bytes.AddRange(Join(fields, quoteAll));
                expected.Add(new ExpectedLine(line, LineKind.Good, "good", uuid, metric, value));
            }
            else if (roll < 66)
            {
                // A header repeated by concatenated logs, or a blank line: neither a row nor an error.
                if (random.Next(2) == 0) bytes.AddRange(Encoding.UTF8.GetBytes(Header));
                expected.Add(new ExpectedLine(line, LineKind.Neutral, "header repeated or blank"));
            }
            else
            {
                var (mutated, name) = Break(random, fields, quoteAll);
                bytes.AddRange(mutated);
                expected.Add(new ExpectedLine(line, LineKind.Bad, name));
            }
        }
        if (random.Next(2) == 0) bytes.AddRange(newline);
        return new CsvCase(seed, [.. bytes], expected,
            $"seed {seed}: {expected.Count} lines, bom={bom}, crlf={crlf}, quoted={quoteAll}");
    }

    private static string[] Row(Random random, bool quoteAll, out string uuid, out string metric, out double value)
    {
        uuid = $"GPU-{random.Next(20):x8}-86f3-7a43-b711-{random.Next(1 << 20):x12}";
        metric = Metrics[random.Next(Metrics.Length)];
        value = random.Next(3) switch
        {
            0 => random.Next(0, 101),
            1 => Math.Round(random.NextDouble() * 1000, 3),
            _ => -random.NextDouble() * 1e6,
        };
        var host = Hosts[random.Next(Hosts.Length)];
        var index = random.Next(8);
        var time = new DateTime(2025, 7, 18, 20, 0, 0, DateTimeKind.Utc).AddSeconds(random.Next(86_400)).AddTicks(random.Next(10_000_000));
        var labels = $"DCGM_FI_DRIVER_VERSION=\"535.129.03\",Hostname=\"{host}\",UUID=\"{uuid}\"";
        if (random.Next(10) == 0) labels += ",pad=\"" + new string('p', random.Next(1000, 60_000)) + "\"";
        // Fields with commas or quotes are always quoted, whatever the file's style.
        return
        [
            time.ToString(random.Next(2) == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            metric, index.ToString(CultureInfo.InvariantCulture), $"nvidia{index}", uuid, "NVIDIA H100 80GB HBM3", host,
            "", random.Next(4) == 0 ? "pod-1" : "", "", value.ToString("R", CultureInfo.InvariantCulture), labels,
        ];
    }

    private static byte[] Join(string[] fields, bool quoteAll)
    {
        var text = new StringBuilder();
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0) text.Append(',');
            text.Append(Quote(fields[i], quoteAll));
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string Quote(string field, bool quoteAll) =>
        quoteAll || field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;

    /// <summary>A broken version of a good row that a reader must reject without disturbing other lines.</summary>
    private static (byte[] Line, string Mutation) Break(Random random, string[] fields, bool quoteAll)
    {
        switch (random.Next(10))
        {
            case 0:
                fields[0] = random.Next(3) switch { 0 => "not-a-time", 1 => "2025-13-45T99:99:99Z", _ => "" };
                return (Join(fields, quoteAll), "bad timestamp");
            case 1:
                fields[10] = random.Next(4) switch { 0 => "abc", 1 => "", 2 => "NaN", _ => "1,5" };
                return (Join(fields, quoteAll), "bad value");
            case 2:
            {
                // Invalid UTF-8 where a number belongs.
                var before = Join(fields[..10], quoteAll);
                var after = Join(fields[11..], quoteAll);
                byte[] value = [(byte)'"', 0xFF, 0xC3, (byte)'1', 0x80, (byte)'"'];
                return ([.. before, (byte)',', .. value, (byte)',', .. after], "non-UTF-8 value");
            }
            case 3:
                fields[4] = "";
                return (Join(fields, quoteAll), "missing uuid");
            case 4:
                fields[1] = "";
                return (Join(fields, quoteAll), "missing metric");
            case 5:
                fields[2] = random.Next(3) switch { 0 => "-1", 1 => "x", _ => "99999999999" };
                return (Join(fields, quoteAll), "bad gpu_id");
            case 6:
                return (Join(fields[..random.Next(1, 12)], quoteAll), "too few fields");
            case 7:
            {
                var extra = random.Next(2) == 0 ? 1 : random.Next(1000, 5000);
                return (Join([.. fields, .. Enumerable.Repeat("z", extra)], quoteAll), extra == 1 ? "13 fields" : "thousands of fields");
            }
            default:
            {
                // Cut inside the first 11 fields (never inside labels_raw, where a cut could leave a valid row),
                // closing a quote the cut left open so the damage stays on this line.
                var full = Join(fields[..11], quoteAll);
                var cut = Encoding.UTF8.GetString(full, 0, random.Next(1, full.Length));
                cut = cut.TrimEnd('\uFFFD');
                if (cut.Count(c => c == '"') % 2 == 1) cut += "\"";
                return (Encoding.UTF8.GetBytes(cut), "truncated line");
            }
        }
    }

    /// <summary>Files built to hurt: random bytes, stray and unbalanced quotes, NULs, bare CRs, invalid UTF-8,
    /// enormous lines and headers with thousands of columns. Only robustness is checked for these.</summary>
    public static byte[] Chaos(int seed)
    {
        var random = new Random(seed);
        var bytes = new List<byte>();
        switch (random.Next(4))
        {
            case 0:
                var noise = new byte[random.Next(0, 64 * 1024)];
                random.NextBytes(noise);
                if (random.Next(2) == 0) bytes.AddRange(Encoding.UTF8.GetBytes(Header + "\n"));
                bytes.AddRange(noise);
                return [.. bytes];
            case 1:
                // Thousands of columns in the header, the DCGM ones among them.
                var columns = Header.Split(',').Concat(Enumerable.Range(0, random.Next(1000, 6000)).Select(i => $"extra{i}")).ToArray();
                random.Shuffle(columns);
                bytes.AddRange(Encoding.UTF8.GetBytes(string.Join(',', columns) + "\n"));
                for (var line = 0; line < random.Next(1, 20); line++)
                {
                    var values = columns.Select(c => c switch
                    {
                        "timestamp" => "2025-07-18T20:42:34Z",
                        "metric_name" => "DCGM_FI_DEV_GPU_UTIL",
                        "gpu_id" => "0",
                        "uuid" => "GPU-1",
                        "value" => random.Next(100).ToString(CultureInfo.InvariantCulture),
                        _ => random.Next(3) == 0 ? "\"a,b\"" : "v",
                    });
                    bytes.AddRange(Encoding.UTF8.GetBytes(string.Join(',', values) + "\n"));
                }
                return [.. bytes];
            case 2:
                // nvidia-smi header with junk rows.
                bytes.AddRange(Encoding.UTF8.GetBytes("timestamp, name, uuid, utilization.gpu [%], memory.used [MiB]\n"));
                break;
            default:
                if (random.Next(4) > 0) bytes.AddRange(Encoding.UTF8.GetBytes(Header + (random.Next(2) == 0 ? "\r\n" : "\n")));
                break;
        }
        string[] pieces = ["\"", "\"\"", ",", "\r", "\n", "\r\n", "\0", "abc", "2025-07-18T20:42:34Z", "GPU-x", "12.5", "[N/A]", " %", "\"a\"b\"", "é", "\uFEFF"];
        var lines = random.Next(1, 200);
        for (var i = 0; i < lines; i++)
        {
            switch (random.Next(12))
            {
                case 0:
                    var garbage = new byte[random.Next(1, 300)];
                    random.NextBytes(garbage);
                    bytes.AddRange(garbage);
                    break;
                case 1:
                    bytes.AddRange(Encoding.UTF8.GetBytes(new string(random.Next(2) == 0 ? 'y' : '"', random.Next(1000, 1_200_000))));
                    break;
                default:
                    for (var p = random.Next(1, 40); p > 0; p--) bytes.AddRange(Encoding.UTF8.GetBytes(pieces[random.Next(pieces.Length)]));
                    break;
            }
            bytes.Add((byte)'\n');
        }
        return [.. bytes];
    }
}
