using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Telemetry.Testing;

namespace Telemetry.Reliability.Tests.Support;

/// <summary>The embedded host running as a child process, so it can be killed for real (SIGKILL).</summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process, int port, int metricsPort)
    {
        _process = process;
        Port = port;
        MetricsPort = metricsPort;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public int Port { get; }
    public int MetricsPort { get; }
    public HttpClient Client { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    public static HostProcess Start(IReadOnlyDictionary<string, string> environment)
    {
        var port = TestPaths.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(TestPaths.EmbeddedDll);
        var metricsPort = TestPaths.FreePort();
        start.Environment["PORT"] = port.ToString();
        start.Environment["METRICS_PORT"] = metricsPort.ToString();
        start.Environment["LOG_LEVEL"] = "Warning";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var host = new HostProcess(process, port, metricsPort);
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length < 64 * 1024) _output.AppendLine(line);
        }
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Waits until the API lists GPUs holding at least <paramref name="samples"/> samples in total.</summary>
    public Task<Dictionary<string, (int Samples, DateTime LastSeen)>> WaitForSamplesAsync(long samples, TimeSpan timeout) =>
        WaitUntilAsync(seen => seen.Values.Sum(v => (long)v.Samples) >= samples, $"{samples} samples", timeout);

    /// <summary>Waits until some GPU's newest sample is later than <paramref name="ticks"/>: progress that shows
    /// even when every window is already full.</summary>
    public Task<Dictionary<string, (int Samples, DateTime LastSeen)>> WaitForNewerThanAsync(long ticks, TimeSpan timeout) =>
        WaitUntilAsync(seen => seen.Count > 0 && seen.Values.Max(v => v.LastSeen.Ticks) > ticks, "a newer sample", timeout);

    /// <summary>Polls the API (refused connections count as "not yet") until <paramref name="done"/>; a host that
    /// exits meanwhile fails at once with its output.</summary>
    private async Task<Dictionary<string, (int Samples, DateTime LastSeen)>> WaitUntilAsync(
        Func<Dictionary<string, (int Samples, DateTime LastSeen)>, bool> done, string what, TimeSpan timeout)
    {
        Dictionary<string, (int Samples, DateTime LastSeen)>? seen;
        try
        {
            seen = await Eventually.ValueAsync(async () => _process.HasExited ? null : await ReadGpusAsync(),
                seen => seen is null || done(seen), what, timeout, seen => $"{seen?.Count} GPUs");
        }
        catch (TimeoutException timedOut)
        {
            throw new TimeoutException($"{timedOut.Message}; host output: {Output}");
        }
        return seen ?? throw new InvalidOperationException($"host exited with {_process.ExitCode} while waiting for {what}: {Output}");
    }

    /// <summary>Every GPU the API lists, with its sample count and last_seen.</summary>
    public async Task<Dictionary<string, (int Samples, DateTime LastSeen)>> ReadGpusAsync()
    {
        using var response = await Client.GetAsync("/api/v1/gpus?limit=1000");
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        var result = new Dictionary<string, (int, DateTime)>(StringComparer.Ordinal);
        foreach (var gpu in json.RootElement.GetProperty("gpus").EnumerateArray())
        {
            result[gpu.GetProperty("uuid").GetString()!] = (gpu.GetProperty("samples").GetInt32(), gpu.GetProperty("last_seen").GetDateTime());
        }
        return result;
    }

    /// <summary>Resident memory of the process (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        throw new InvalidOperationException("no VmRSS line");
    }

    /// <summary>SIGKILL: no shutdown code runs, open transactions are cut wherever they are.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM: the host's graceful shutdown. Returns the exit code, or null if it did not exit in time.</summary>
    public int? Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) kill.WaitForExit();
        return _process.WaitForExit(timeout) ? _process.ExitCode : null;
    }

    public void Dispose()
    {
        Client.Dispose();
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
