using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Telemetry.Service.Tests.Support;

namespace Telemetry.Service.Tests;

/// <summary>The embedded host's dll as a child process: a bad setting ends it with exit code 2 and one line on
/// stderr that names the setting, never a stack trace.</summary>
public sealed class BadConfigurationTests : IDisposable
{
    private static readonly string[] Inherited =
        ["CSV_FILE", "RATE", "WORKERS", "LOOP", "BATCH_SIZE", "DATA_DIR", "CHECKPOINT_ENABLED", "MAX_ENTRIES", "LOG_LEVEL", "LOG_FORMAT",
         "PORT", "METRICS_PORT", "QUEUE_CAPACITY", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "ASPNETCORE_URLS",
         "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "QUERY_CACHE_SAMPLES"];

    private readonly TempDirectory _dir = new();

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "CSV_FILE", "/nonexistent", "/nonexistent" },
        { "RATE", "abc", "abc" },
        { "LOG_FORMAT", "xml", "xml" },
        { "LOG_LEVEL", "loud", "loud" },
        { "MAX_ENTRIES", "0", "1000000" },
        { "WORKERS", "0", "64" },          // fails the streamer's and the collector's options at once
        { "PORT", "70000", "65535" },
        { "CHECKPOINT_ENABLED", "maybe", "maybe" },
        { "OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4317", "jaeger:4317" }, // no scheme: "jaeger" would be read as one
        { "QUERY_CACHE_SAMPLES", "-1", "100000000" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_setting_exits_2_with_one_line_naming_it(string key, string value, string mentioned)
    {
        var (exit, stdout, stderr) = await RunAsync(new() { [key] = value });
        AssertConfigurationError(exit, stdout, stderr, key);
        Assert.Contains(mentioned, stderr);
    }

    [Theory]
    [InlineData("PORT")]
    [InlineData("METRICS_PORT")]
    public async Task A_port_already_in_use_exits_2_with_one_line_naming_its_setting(string key)
    {
        // Another process listening on all interfaces, as a second instance would.
        using var taken = new TcpListener(IPAddress.Any, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString();

        var (exit, stdout, stderr) = await RunAsync(new() { [key] = port });

        AssertConfigurationError(exit, stdout, stderr, $"{key}={port}");
        Assert.Contains("already in use", stderr);
    }

    [Fact]
    public async Task A_data_dir_that_cannot_hold_the_database_exits_2_naming_DATA_DIR()
    {
        var notADirectory = _dir.File("plain-file", "x");
        var (exit, stdout, stderr) = await RunAsync(new() { ["CHECKPOINT_ENABLED"] = "true", ["DATA_DIR"] = notADirectory });
        AssertConfigurationError(exit, stdout, stderr, "DATA_DIR");
    }

    [Fact]
    public async Task A_csv_with_an_unrecognised_header_exits_2_naming_the_file()
    {
        var file = _dir.File("inventory.csv", "name,price,quantity\nwidget,1.50,3\n");
        var (exit, stdout, stderr) = await RunAsync(new() { ["CSV_FILE"] = file });
        AssertConfigurationError(exit, stdout, stderr, "CSV_FILE");
        Assert.Contains(file, stderr);
        Assert.Contains("header", stderr);
    }

    private static void AssertConfigurationError(int exit, string stdout, string stderr, string key)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(exit == 2, $"exit code {exit}; stderr: {stderr}; stdout: {stdout}");
        Assert.True(lines.Length == 1, $"stderr has {lines.Length} lines: {stderr}");
        Assert.StartsWith("configuration error:", lines[0]);
        Assert.Contains(key, lines[0]);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.DoesNotContain("Exception", stdout + stderr);
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir.Path,
        };
        start.ArgumentList.Add(EmbeddedDll());
        foreach (var name in Inherited) start.Environment.Remove(name);
        // Good values for everything else, so only the setting under test is wrong; if it were accepted the host
        // would run on free ports until the timeout below.
        start.Environment["CSV_FILE"] = Dcgm.ReferenceFile;
        start.Environment["LOOP"] = "false";
        start.Environment["CHECKPOINT_ENABLED"] = "false";
        start.Environment["DATA_DIR"] = Path.Combine(_dir.Path, "data");
        start.Environment["PORT"] = FreePort().ToString();
        start.Environment["METRICS_PORT"] = FreePort().ToString();
        foreach (var (key, value) in settings) start.Environment[key] = value;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the host kept running with {string.Join(", ", settings.Select(s => $"{s.Key}={s.Value}"))}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The embedded host as built with these tests (copied next to them by the project reference).</summary>
    private static string EmbeddedDll()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Telemetry.Embedded.dll");
        Assert.True(File.Exists(path), $"{path} is missing");
        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _dir.Dispose();
}
