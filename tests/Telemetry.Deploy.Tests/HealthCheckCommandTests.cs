using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Hosting;

namespace Telemetry.Deploy.Tests;

/// <summary>
/// Runs every container health check command (the Dockerfiles' HEALTHCHECK and compose's healthcheck) with bash
/// against a real Kestrel host on a local port, the way Docker runs it inside the container: the port variable
/// set, nothing else. Reading the commands is not enough: "Host: localhost" looked right and every container
/// stayed unhealthy because /health is matched by host and port.
/// </summary>
public partial class HealthCheckCommandTests
{
    /// <summary>One health check: where it is written, the shell command and the variable holding the port.</summary>
    public sealed record Check(string Source, string Command, string PortVariable)
    {
        public override string ToString() => Source;
    }

    [GeneratedRegex(@"/dev/tcp/127\.0\.0\.1/\$\{([A-Z_]+)\}")]
    private static partial Regex PortVariable();

    private static Check FromCommand(string source, string command)
    {
        var variable = PortVariable().Match(command);
        Assert.True(variable.Success, $"{source}: the health check does not connect to 127.0.0.1 on a port variable: {command}");
        return new Check(source, command, variable.Groups[1].Value);
    }

    private static IEnumerable<Check> DockerfileChecks() =>
        new[] { "Telemetry.Streamer.Dapr", "Telemetry.Collector.Dapr", "Telemetry.Gateway.Dapr" }.Select(project =>
        {
            var text = Regex.Replace(Repo.Read("services", project, "Dockerfile"), @"\\\r?\n", " ");
            var exec = Regex.Match(text, @"^HEALTHCHECK .*?\bCMD (\[.*\])\s*$", RegexOptions.Multiline);
            Assert.True(exec.Success, $"{project}/Dockerfile: no exec-form HEALTHCHECK CMD");
            var argv = JsonSerializer.Deserialize<string[]>(exec.Groups[1].Value)!;
            Assert.Equal(["bash", "-c"], argv[..2]);
            return FromCommand($"services/{project}/Dockerfile", argv[2]);
        });

    private static IEnumerable<Check> ComposeChecks()
    {
        var services = Repo.LoadYaml("deploy", "compose", "docker-compose.yml")["services"]!.AsObject();
        foreach (var appId in Repo.AppIds)
        {
            var test = services[appId]!["healthcheck"]!["test"]!.AsArray().Select(t => t.Text()!).ToArray();
            Assert.Equal(["CMD", "bash", "-c"], test[..3]);
            // Compose interpolates ${VAR} in the file itself; "$$" is how the file passes a literal "$" to bash.
            yield return FromCommand($"docker-compose.yml {appId}", test[3].Replace("$$", "$", StringComparison.Ordinal));
        }
    }

    public static TheoryData<Check> Checks => new(DockerfileChecks().Concat(ComposeChecks()));

    /// <summary>The services' own mapping (<see cref="WebHostExtensions.MapHealth"/>), however it binds /health.</summary>
    [Theory]
    [MemberData(nameof(Checks))]
    public async Task Health_check_passes_against_health_mapped_as_the_services_map_it(Check check)
    {
        await using var host = await HealthHost.StartAsync((app, port) => app.MapHealth(port));
        var (exitCode, output) = await RunAsync(check.Command, check.PortVariable, host.Port);
        Assert.True(exitCode == 0, $"{check.Source}: health check exited {exitCode} against a healthy host: {output}");
    }

    /// <summary>/health matched by host and port (RequireHost("*:port")), the binding that made every container
    /// unhealthy: the check must name the port in Host.</summary>
    [Theory]
    [MemberData(nameof(Checks))]
    public async Task Health_check_passes_against_health_matched_by_host_and_port(Check check)
    {
        await using var host = await HealthHost.StartAsync((app, port) => app.MapGet("/health", () => "Healthy").RequireHost($"*:{port}"));
        var (exitCode, output) = await RunAsync(check.Command, check.PortVariable, host.Port);
        Assert.True(exitCode == 0, $"{check.Source}: health check exited {exitCode} against /health matched by host and port: {output}");
    }

    /// <summary>The harness tells a wrong command from a right one: the command these files had before
    /// ("Host" without a port) fails against the same host.</summary>
    [Fact]
    public async Task A_host_header_without_the_port_is_refused_by_health_matched_by_host_and_port()
    {
        const string before = "exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '";
        await using var host = await HealthHost.StartAsync((app, port) => app.MapGet("/health", () => "Healthy").RequireHost($"*:{port}"));
        var (exitCode, _) = await RunAsync(before, "PORT", host.Port);
        Assert.NotEqual(0, exitCode);
    }

    /// <summary>And a check against a port nobody listens on fails rather than hangs.</summary>
    [Theory]
    [MemberData(nameof(Checks))]
    public async Task Health_check_fails_when_nothing_listens(Check check)
    {
        var (exitCode, _) = await RunAsync(check.Command, check.PortVariable, FreePort());
        Assert.NotEqual(0, exitCode);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string command, string portVariable, int port)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        psi.Environment[portVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // Docker's own timeout here is 5 s
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out after 30 s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A Kestrel host on a free local port with /health mapped by the given function.</summary>
    private sealed class HealthHost : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private HealthHost(WebApplication app, int port) => (_app, Port) = (app, port);

        public int Port { get; }

        public static async Task<HealthHost> StartAsync(Action<WebApplication, int> map)
        {
            var port = FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.ListenOn(port);
            builder.Services.AddHealthChecks();
            var app = builder.Build();
            map(app, port);
            await app.StartAsync();
            return new HealthHost(app, port);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
