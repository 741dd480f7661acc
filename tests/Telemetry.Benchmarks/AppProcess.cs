using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Telemetry.Benchmarks;

/// <summary>
/// A service's own executable (services/Telemetry.X/bin/Release/net10.0/Telemetry.X.dll) run with <c>dotnet</c> as a
/// child process, so its CPU can be read apart from the benchmark process that hosts the sidecar doubles.
/// It listens on free loopback-reachable ports; readiness is its <c>/health/ready</c>, counters come from its
/// Prometheus <c>/metrics</c>. It never outlives the benchmark: on Linux it is started under
/// <c>setpriv --pdeathsig KILL</c>, so the kernel kills it when the benchmark dies however it dies.
/// </summary>
internal sealed class AppProcess : IAsyncDisposable
{
    internal const string SetPriv = "/usr/bin/setpriv";
    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly Queue<string> _lastLines = new();

    private AppProcess(string name, Process process, int healthPort, int metricsPort)
    {
        Name = name;
        _process = process;
        HealthPort = healthPort;
        MetricsPort = metricsPort;
        process.OutputDataReceived += (_, line) => Keep(line.Data);
        process.ErrorDataReceived += (_, line) => Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int HealthPort { get; }
    public int MetricsPort { get; }

    /// <summary>User + system CPU of the child so far (from /proc/pid/stat on Linux).</summary>
    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts <c>Telemetry.{service}.dll</c> with <paramref name="environment"/> (plus a free port for its
    /// health endpoints, set as <paramref name="healthPortSetting"/>, and a free METRICS_PORT) and waits until it
    /// reports ready. The embedded service serves health on its API port, <c>PORT</c>.</summary>
    /// <param name="dll">Another build of the service (figure 9 runs a ReadyToRun publish), or another program.</param>
    /// <param name="arguments">Its command line after the dll.</param>
    public static async Task<AppProcess> StartAsync(string service, IReadOnlyDictionary<string, string> environment, TimeSpan timeout,
        string healthPortSetting = "HEALTH_PORT", string? dll = null, IReadOnlyList<string>? arguments = null)
    {
        dll ??= Path.Combine(Paths.RepositoryRoot, "services", $"Telemetry.{service}", "bin", "Release", "net10.0", $"Telemetry.{service}.dll");
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{dll} is missing; `dotnet build tests/Telemetry.Benchmarks -c Release` (or `make bench`) builds it.", dll);
        var (healthPort, metricsPort) = (FreePort(), FreePort());
        var pdeathsig = OperatingSystem.IsLinux() && File.Exists(SetPriv);
        var info = new ProcessStartInfo(pdeathsig ? SetPriv : "dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (pdeathsig) foreach (var arg in new[] { "--pdeathsig", "KILL", "--", "dotnet" }) info.ArgumentList.Add(arg);
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments ?? []) info.ArgumentList.Add(argument);
        info.Environment[healthPortSetting] = healthPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["METRICS_PORT"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["LOG_LEVEL"] = "Warning";
        foreach (var (key, value) in environment) info.Environment[key] = value;

        var app = new AppProcess(service, await StartOnOwnThreadAsync(info), healthPort, metricsPort);
        if (!pdeathsig) AppDomain.CurrentDomain.ProcessExit += (_, _) => app.Kill();
        try
        {
            await app.WaitReadyAsync(timeout);
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>A counter's value from the app's Prometheus endpoint (0 when not yet reported).</summary>
    public async Task<double> CounterAsync(string name)
    {
        var text = await _http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics");
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (line.StartsWith(name) && line.Length > name.Length && line[name.Length] == ' ')
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
        }
        return 0;
    }

    /// <summary>SIGTERM (the host shuts down gracefully), then SIGKILL if it has not exited within a few seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            if (OperatingSystem.IsLinux()) _ = SendSignal(_process.Id, 15);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { Kill(); }
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
    }

    private void Kill()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // exited meanwhile
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready:\n{Output()}");
            try
            {
                using var response = await _http.GetAsync($"http://127.0.0.1:{HealthPort}/health/ready");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { } // not listening yet
            if (clock.Elapsed > timeout) throw new TimeoutException($"{Name} was not ready within {timeout}:\n{Output()}");
            await Task.Delay(20); // figure 9 times start-up: a coarse poll would add to it
        }
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 40) _lastLines.Dequeue();
        }
    }

    private string Output()
    {
        lock (_lastLines) return string.Join('\n', _lastLines);
    }

    /// <summary>
    /// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process; a thread-pool thread
    /// may retire at any time. So the child is started from a thread of its own that lives as long as the child.
    /// </summary>
    internal static Task<Process> StartOnOwnThreadAsync(ProcessStartInfo info)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            Process process;
            try { process = Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start."); }
            catch (Exception error)
            {
                started.SetException(error);
                return;
            }
            started.SetResult(process);
            try { process.WaitForExit(); }
            catch (InvalidOperationException) { } // disposed by its owner after exit
        })
        { IsBackground = true, Name = "child process keeper" };
        thread.Start();
        return started.Task;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static extern int SendSignal(int pid, int signal);
}
