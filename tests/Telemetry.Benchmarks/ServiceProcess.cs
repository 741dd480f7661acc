using System.Diagnostics;
using System.Globalization;

namespace Telemetry.Benchmarks;

/// <summary>
/// A service run as shipped: its own `dotnet Telemetry.X.dll` process with its own runtime settings (server GC for
/// the web hosts), configured by environment variables, measured from outside (CPU time of the process, its
/// Prometheus metrics page). Killed with its process tree on dispose, so a failed run leaves nothing behind.
/// </summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly HttpClient _metrics;
    private readonly StringWriter _output = new();

    public HttpClient Api { get; }
    public DateTime StartedAt { get; } = DateTime.UtcNow;

    public ServiceProcess(string service, IReadOnlyDictionary<string, string> environment)
    {
        var dll = Path.Combine(Paths.RepositoryRoot, "services", service, "bin", "Release", "net10.0", service + ".dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is missing: build the benchmarks with -c Release (make bench does).");
        var port = EmbeddedHost.FreePort();
        var metricsPort = EmbeddedHost.FreePort();
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["METRICS_PORT"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["LOG_LEVEL"] = "Warning";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dll}.");
        _process.OutputDataReceived += (_, line) => { lock (_output) _output.WriteLine(line.Data); };
        _process.ErrorDataReceived += (_, line) => { lock (_output) _output.WriteLine(line.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
        _metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>User + system CPU the process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The value of one un-labelled metric, or null while the metrics endpoint is not up yet.</summary>
    public async Task<double?> MetricAsync(string name)
    {
        if (_process.HasExited) throw new InvalidOperationException($"The service exited with code {_process.ExitCode}:\n{Output}");
        string page;
        try
        {
            page = await _metrics.GetStringAsync("/metrics");
        }
        catch (HttpRequestException)
        {
            return null;
        }
        foreach (var line in page.AsSpan().EnumerateLines())
        {
            if (line.StartsWith(name) && line.Length > name.Length && line[name.Length] == ' ')
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
        }
        return null;
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        Api.Dispose();
        _metrics.Dispose();
    }
}
