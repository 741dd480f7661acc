using System.Diagnostics;
using System.Text.Json;

namespace Telemetry.Benchmarks;

internal static partial class Figures
{
    /// <summary>
    /// Figure 9: what a user running <c>make run</c> waits for: the embedded host with <c>make run</c>'s settings (the
    /// shipped reference file, the default rate, SQLite in a fresh data directory), from process start until
    /// <c>GET /api/v1/gpus</c> lists a GPU, i.e. its first samples are committed and queryable. Four builds take turns:
    /// as <c>dotnet build</c> leaves it (tiered compilation; dynamic PGO off, as the project sets it), the same with
    /// the runtime's default dynamic PGO back on (<c>DOTNET_TieredPGO=1</c>), a ReadyToRun publish
    /// (<c>-p:PublishReadyToRun=true -r linux-x64</c>, published once into a temporary folder; the framework itself is
    /// ReadyToRun already), and that with PGO on.
    /// </summary>
    public static async Task StartUpAsync(Reporter reporter, bool quick)
    {
        Console.WriteLine("\n== Figure 9: start-up (make run's host, process start to first queryable sample) ==");
        var publishDir = Directory.CreateTempSubdirectory("telemetry-bench-r2r-").FullName;
        try
        {
            var project = Path.Combine(Paths.RepositoryRoot, "services", "Telemetry.Embedded");
            var arguments = $"publish \"{project}\" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o \"{publishDir}\" -nologo -v quiet";
            Console.WriteLine($"    dotnet {arguments}");
            var publishing = Stopwatch.StartNew();
            using (var publish = Process.Start(new ProcessStartInfo("dotnet", arguments) { UseShellExecute = false })!)
            {
                await publish.WaitForExitAsync();
                if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish (ReadyToRun) failed with exit code {publish.ExitCode}.");
            }
            Console.WriteLine($"    published in {publishing.Elapsed.TotalSeconds:0} s");
            var r2r = Path.Combine(publishDir, "Telemetry.Embedded.dll");
            var pgoOn = new Dictionary<string, string> { ["DOTNET_TieredPGO"] = "1" };
            var variants = new (string Id, string Name, string? Dll, Dictionary<string, string> Runtime)[]
            {
                ("9-built", "as built (tiered compilation, dynamic PGO off in the project)", null, []),
                ("9-pgo-on", "as built, dynamic PGO on (DOTNET_TieredPGO=1, the runtime's default)", null, pgoOn),
                ("9-r2r", "ReadyToRun publish (PublishReadyToRun, linux-x64)", r2r, []),
                ("9-r2r-pgo-on", "ReadyToRun publish, dynamic PGO on", r2r, pgoOn),
            };
            var runs = quick ? 3 : 7;
            var seconds = variants.ToDictionary(v => v.Id, _ => new List<double>());
            var cpu = variants.ToDictionary(v => v.Id, _ => new List<double>());
            for (var run = 0; run < runs; run++)
            {
                // Taking turns spreads the machine's changing load over every variant.
                foreach (var (id, _, dll, runtime) in run % 2 == 0 ? variants : variants.Reverse())
                {
                    var (first, firstCpu) = await FirstQueryableAsync(dll, runtime);
                    seconds[id].Add(first);
                    cpu[id].Add(firstCpu);
                    Console.WriteLine($"    {id}: first sample queryable {first:0.000} s after start (process CPU {firstCpu:0.00} s)");
                }
            }
            var built = Stats.Percentile(seconds["9-built"], 50);
            foreach (var (id, name, _, _) in variants)
            {
                var median = Stats.Percentile(seconds[id], 50);
                reporter.Add(new Figure(id, $"Start-up, make run's host, process start to first queryable sample: {name}", median, "s",
                    id == "9-built" ? null : built, id == "9-built" ? null : "as built, same run", Note:
                    $"median of {runs} (runs taking turns); spread {seconds[id].Min():0.000}-{seconds[id].Max():0.000} s; process CPU until then " +
                    $"median {Stats.Percentile(cpu[id], 50):0.00} s"));
            }
        }
        finally
        {
            try { Directory.Delete(publishDir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Seconds from process start until <c>/api/v1/gpus</c> lists a GPU, and the process CPU by then.</summary>
    private static async Task<(double Seconds, double Cpu)> FirstQueryableAsync(string? dll, Dictionary<string, string> runtime)
    {
        var dataDir = Directory.CreateTempSubdirectory("telemetry-bench-").FullName;
        try
        {
            // make run's environment: CSV_FILE and DATA_DIR (the Makefile exports both); the rate and the rest default.
            var environment = new Dictionary<string, string>(runtime) { ["CSV_FILE"] = Paths.ReferenceCsv, ["DATA_DIR"] = dataDir };
            var clock = Stopwatch.StartNew();
            await using var service = await AppProcess.StartAsync("Embedded", environment, TimeSpan.FromMinutes(1), healthPortSetting: "PORT", dll: dll);
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.HealthPort}") };
            while (true)
            {
                using (var page = JsonDocument.Parse(await api.GetStringAsync("/api/v1/gpus?limit=1")))
                {
                    if (page.RootElement.GetProperty("gpus").GetArrayLength() > 0) return (clock.Elapsed.TotalSeconds, service.Cpu.TotalSeconds);
                }
                if (clock.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException("No GPU was queryable within a minute of start.");
                await Task.Delay(5);
            }
        }
        finally
        {
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
    }
}
