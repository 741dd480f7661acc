using Dapr.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Telemetry.Dapr;

/// <summary>
/// Sidecar and app start in either order. Once the host has started, this waits for the sidecar (up to
/// <c>DAPR_SIDECAR_TIMEOUT_SECONDS</c>) and opens <see cref="Ready"/>; if it never answers, it says so in one
/// line and stops the process with exit code 1 so the orchestrator restarts it.
/// </summary>
public sealed partial class SidecarGate(
    DaprClient client,
    IOptions<DaprOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<SidecarGate> logger) : BackgroundService
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Ready => _ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var timeout = TimeSpan.FromSeconds(options.Value.SidecarTimeoutSeconds);
        LogWaiting(timeout.TotalSeconds);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(timeout);
        try
        {
            await client.WaitForSidecarAsync(deadline.Token);
            LogReady();
            _ready.TrySetResult();
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            LogTimedOut(timeout.TotalSeconds);
            _ready.TrySetException(new TimeoutException("The Dapr sidecar did not answer."));
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting up to {Seconds}s for the Dapr sidecar")]
    private partial void LogWaiting(double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dapr sidecar is ready")]
    private partial void LogReady();

    [LoggerMessage(Level = LogLevel.Critical, Message = "Dapr sidecar did not answer within {Seconds}s (DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT); is daprd running beside this app?")]
    private partial void LogTimedOut(double seconds);
}
