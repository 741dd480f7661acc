using System.Net;
using System.Net.Sockets;

namespace Telemetry.Reliability.Tests.Support;

internal static class TestPaths
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>The shipped sample: 2,470 rows, 247 GPUs × 10 metrics.</summary>
    public static string ReferenceCsv => Fixture("dcgm_metrics_20250718_134233.csv");

    /// <summary>The first 20 rows of the sample.</summary>
    public static string TinyCsv => Fixture("tiny.csv");

    /// <summary>The embedded host as a program to start in its own process. The build copies it next to
    /// the tests (with its runtimeconfig), since this project references it.</summary>
    public static string EmbeddedDll
    {
        get
        {
            var local = Path.Combine(AppContext.BaseDirectory, "Telemetry.Embedded.dll");
            if (File.Exists(local) && File.Exists(Path.ChangeExtension(local, ".runtimeconfig.json"))) return local;
            throw new FileNotFoundException($"Telemetry.Embedded.dll with its runtimeconfig.json not found in {AppContext.BaseDirectory}");
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A folder deleted with the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("telemetry-reliability-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Seed and duration of the fuzzers: a short pass by default (for <c>make test</c>), longer on demand
/// (<c>make fuzz</c> sets FUZZ_SECONDS). A failure prints the seed of the failing case, so it can be replayed.</summary>
internal static class FuzzSettings
{
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), out var seed) ? seed : 20250718;

    /// <summary>FUZZ_SECONDS when set, else the given default.</summary>
    public static TimeSpan Duration(double defaultSeconds) =>
        TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("FUZZ_SECONDS"),
            System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? seconds
            : defaultSeconds);
}
