using System.Globalization;
using System.Text;

namespace Telemetry.Service.Tests.Support;

/// <summary>A directory under the system temp folder, removed when disposed.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "telemetry-svc-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string contents)
    {
        var path = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(path, contents);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A host that has not let go of a file yet; the temp folder is cleaned eventually.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>DCGM CSV text for fixtures.</summary>
public static class Dcgm
{
    public const string Header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

    public static string ReferenceFile => Path.Combine(AppContext.BaseDirectory, "Fixtures", "dcgm_metrics_20250718_134233.csv");

    public static string Row(string uuid, string host, int index, string metric, string value, string timestamp = "2025-07-18T20:42:34Z") =>
        $"\"{timestamp}\",\"{metric}\",\"{index}\",\"nvidia{index}\",\"{uuid}\",\"NVIDIA H100 80GB HBM3\",\"{host}\",\"\",\"\",\"\",\"{value}\",\"DCGM_FI_DRIVER_VERSION=\"\"535.129.03\"\"\"";

    public static string File(IEnumerable<string> rows)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var row in rows) text.Append(row).Append('\n');
        return text.ToString();
    }

    /// <summary><paramref name="count"/> good rows over <paramref name="gpus"/> GPUs; row i carries value i, so
    /// (uuid, value) names the source line.</summary>
    public static IEnumerable<string> NumberedRows(int count, int gpus = 4) =>
        Enumerable.Range(0, count).Select(i =>
            Row($"GPU-{i % gpus:D4}", $"host-{i % gpus / 2}", i % gpus % 2, "DCGM_FI_DEV_GPU_UTIL", i.ToString(CultureInfo.InvariantCulture)));
}
