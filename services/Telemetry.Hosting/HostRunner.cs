using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Telemetry.Hosting;

/// <summary>Runs a host so that bad configuration ends the process with one clear line and exit code 2,
/// not a stack trace.</summary>
public static partial class HostRunner
{
    public static async Task<int> RunAsync(Func<IHost> build)
    {
        IHost? host = null;
        IConfiguration? configuration = null;
        try
        {
            host = build();
            // Taken now: RunAsync disposes the host, services included, before a start-up failure reaches the catch.
            configuration = host.Services.GetService<IConfiguration>();
            // Validate settings before the host starts, so a bad one is reported here in one line rather
            // than logged by the host with a stack trace.
            host.Services.GetService<IStartupValidator>()?.Validate();
            await host.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode;
        }
        catch (Exception error) when (Describe(error, configuration) is { } line)
        {
            await Console.Error.WriteLineAsync($"configuration error: {line}").ConfigureAwait(false);
            return 2;
        }
        finally
        {
            host?.Dispose();
        }
    }

    /// <summary>The one line to print for a start-up failure caused by configuration, else null.
    /// <paramref name="configuration"/> lets a port that is taken be named by its setting.</summary>
    public static string? Describe(Exception error, IConfiguration? configuration = null) =>
        Reasons(error, configuration) is { Count: > 0 } reasons
            ? string.Join("; ", reasons.Select(reason => reason.TrimEnd('.')).Distinct())
            : null;

    /// <summary>Every configuration problem inside <paramref name="error"/>, or null when any part of it is
    /// something else (that one deserves its stack trace). Several settings can fail at once, and one setting
    /// can fail twice (WORKERS=0 fails the streamer's and the collector's options): each is reported once.</summary>
    private static List<string>? Reasons(Exception error, IConfiguration? configuration) => error switch
    {
        // Kestrel could not bind: another process (often another instance) has the port.
        IOException { InnerException: AddressInUseException } bind => [PortInUse(bind.Message, configuration)],
        OptionsValidationException validation => [.. validation.Failures],
        InvalidOperationException { InnerException: FormatException or OverflowException or ArgumentException } binding =>
            [binding.Message],
        InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            [binding.Message],
        ConfigurationException setting => [setting.Message],
        AggregateException aggregate => aggregate.InnerExceptions.Select(inner => Reasons(inner, configuration)).ToList() is var parts
                                        && parts.TrueForAll(part => part is not null)
            ? [.. parts.SelectMany(part => part!)]
            : null,
        _ => null,
    };
}

public static partial class HostRunner
{
    /// <summary>"PORT=8081: port 8081 is already in use ...": the settings whose value is the port that is taken
    /// (a port left at its default is in no setting, and the line says so).</summary>
    private static string PortInUse(string bindMessage, IConfiguration? configuration)
    {
        var port = PortInAddress().Match(bindMessage) is { Success: true } match ? match.Groups[1].Value : null;
        var settings = port is null || configuration is null
            ? []
            : configuration.AsEnumerable()
                .Where(setting => setting.Key.EndsWith("PORT", StringComparison.OrdinalIgnoreCase) && setting.Value == port)
                .Select(setting => $"{setting.Key}={port}")
                .Distinct()
                .ToList();
        var named = settings.Count > 0 ? string.Join(", ", settings) : $"port {port ?? "?"} (a default; set the service's *_PORT setting)";
        return $"{named}: port {port ?? "?"} is already in use by another process ({bindMessage.TrimEnd('.')}); stop that process or choose a free port";
    }

    [GeneratedRegex(@":(\d{1,5})\b(?!\.)")]
    private static partial Regex PortInAddress();
}

/// <summary>A setting that is present but unusable, found while the host is built.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
