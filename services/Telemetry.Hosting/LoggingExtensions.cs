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
        return builder;
    }
}
