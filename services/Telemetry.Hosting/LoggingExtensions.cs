using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Hosting;

public static class LoggingExtensions
{
    /// <summary><c>LOG_LEVEL</c> (Trace..Critical, default Information) and <c>LOG_FORMAT</c> (text|json).</summary>
    public static IHostApplicationBuilder AddTelemetryLogging(this IHostApplicationBuilder builder)
    {
        var levelText = builder.Configuration["LOG_LEVEL"];
        var level = LogLevel.Information;
        if (!string.IsNullOrWhiteSpace(levelText) && !Enum.TryParse(levelText, ignoreCase: true, out level))
        {
            throw new ConfigurationException($"LOG_LEVEL '{levelText}' is not one of Trace, Debug, Information, Warning, Error, Critical.");
        }
        var format = builder.Configuration["LOG_FORMAT"] ?? "text";
        builder.Logging.ClearProviders();
        switch (format.ToLowerInvariant())
        {
            case "json":
                builder.Logging.AddJsonConsole(options => options.TimestampFormat = "O");
                break;
            case "text":
                builder.Logging.AddSimpleConsole(options =>
                {
                    options.SingleLine = true;
                    options.TimestampFormat = "HH:mm:ss.fff ";
                });
                break;
            default:
                throw new ConfigurationException($"LOG_FORMAT '{format}' is not 'text' or 'json'.");
        }
        builder.Logging.SetMinimumLevel(level);
        // Per-request framework chatter drowns the pipeline's own lines at Information.
        builder.Logging.AddFilter("Microsoft.AspNetCore", level > LogLevel.Warning ? level : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", level);
        // A host that fails to start logs the exception with its stack trace ("Hosting failed to start") and then
        // throws it to HostRunner, which prints a configuration problem (a port in use) in one line and lets any
        // other failure end the process with its stack trace. So the host's own errors wait until it has started.
        var started = new StartedGate();
        builder.Services.AddSingleton<IHostedService>(started);
        builder.Logging.AddFilter(HostCategory, logLevel => logLevel >= level && (logLevel < LogLevel.Error || started.IsOpen));
        return builder;
    }

    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    /// <summary>Open once every hosted service has started.</summary>
    private sealed class StartedGate : IHostedLifecycleService
    {
        private volatile bool _open;

        public bool IsOpen => _open;

        public Task StartedAsync(CancellationToken cancellationToken)
        {
            _open = true;
            return Task.CompletedTask;
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
