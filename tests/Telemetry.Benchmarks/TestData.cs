using System.Globalization;
using System.Text;

namespace Telemetry.Benchmarks;

/// <summary>The inputs of the benchmarks, built in memory from the shipped reference file or generated.</summary>
internal static class TestData
{
    /// <summary>The reference file's header once, then its data lines repeated until at least
    /// <paramref name="minRows"/> rows. Returns the bytes and the number of data rows.</summary>
    public static (byte[] Bytes, int Rows) DcgmRepeated(int minRows)
    {
        var lines = File.ReadAllLines(Paths.ReferenceCsv);
        var header = lines[0];
        var data = lines.Skip(1).Where(l => l.Length > 0).ToArray();
        var repeats = (minRows + data.Length - 1) / data.Length;
        var sb = new StringBuilder(header.Length + repeats * data.Sum(l => l.Length + 1));
        sb.Append(header).Append('\n');
        for (var r = 0; r < repeats; r++)
        {
            foreach (var line in data) sb.Append(line).Append('\n');
        }
        return (Encoding.UTF8.GetBytes(sb.ToString()), repeats * data.Length);
    }

    public static readonly string[] NvidiaSmiColumns =
    [
        "timestamp", "name", "pci.bus_id", "driver_version", "uuid", "index", "pstate",
        "utilization.gpu [%]", "utilization.memory [%]", "memory.used [MiB]", "memory.free [MiB]",
        "temperature.gpu", "power.draw [W]", "clocks.current.sm [MHz]", "clocks.current.memory [MHz]", "fan.speed [%]",
    ];

    /// <summary>An nvidia-smi <c>--query-gpu=... --format=csv -l 1</c> log of 8 GPUs with units in the values
    /// (the default format), <paramref name="rows"/> lines. Each line expands to 10 samples.</summary>
    public static byte[] NvidiaSmiLog(int rows)
    {
        var sb = new StringBuilder(rows * 190);
        sb.Append(string.Join(", ", NvidiaSmiColumns)).Append('\n');
        var start = new DateTime(2026, 11, 26, 18, 0, 0, DateTimeKind.Utc);
        var random = new Random(42);
        for (var i = 0; i < rows; i++)
        {
            var gpu = i % 8;
            var at = start.AddMilliseconds(i / 8 * 1000 + 17);
            sb.Append(at.ToString("yyyy/MM/dd HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append(", ");
            sb.Append("NVIDIA H100 80GB HBM3, 00000000:").Append((0x18 + gpu * 0x10).ToString("X2", CultureInfo.InvariantCulture)).Append(":00.0, 535.129.03, ");
            sb.Append("GPU-").Append(gpu.ToString("x8", CultureInfo.InvariantCulture)).Append("-86f3-7a43-b711-4771313afc50, ").Append(gpu).Append(", P0, ");
            sb.Append(random.Next(0, 101)).Append(" %, ").Append(random.Next(0, 101)).Append(" %, ");
            sb.Append(random.Next(0, 81559)).Append(" MiB, ").Append(random.Next(0, 81559)).Append(" MiB, ");
            sb.Append(random.Next(30, 80)).Append(", ");
            sb.Append((random.Next(6000, 70000) / 100.0).ToString("0.00", CultureInfo.InvariantCulture)).Append(" W, ");
            sb.Append(random.Next(210, 1980)).Append(" MHz, 2619 MHz, [N/A]\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>A DCGM file in the reference layout for <paramref name="gpus"/> GPUs (8 a host) and 10 metrics,
    /// <paramref name="scrapes"/> scrapes: the reference file's shape, scaled up.</summary>
    public static void WriteDcgm(string path, int gpus, int scrapes)
    {
        string[] metrics =
        [
            "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK",
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        ];
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        writer.Write("timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n");
        var random = new Random(7);
        var start = new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);
        for (var s = 0; s < scrapes; s++)
        {
            var at = start.AddSeconds(s).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            foreach (var metric in metrics)
            {
                for (var g = 0; g < gpus; g++)
                {
                    var host = $"bench-host-{g / 8:D4}";
                    var uuid = Uuid(g);
                    writer.Write($"\"{at}\",\"{metric}\",\"{g % 8}\",\"nvidia{g % 8}\",\"{uuid}\",\"NVIDIA H100 80GB HBM3\",\"{host}\",\"\",\"\",\"\",\"{random.Next(0, 1000)}\",");
                    writer.Write($"\"DCGM_FI_DRIVER_VERSION=\"\"535.129.03\"\",Hostname=\"\"{host}\"\",UUID=\"\"{uuid}\"\",__name__=\"\"{metric}\"\"\"\n");
                }
            }
        }
    }

    public static string Uuid(int gpu) => $"GPU-{gpu:x8}-bench-4000-8000-{gpu:x12}";
}
