using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Telemetry.Hosting;

/// <summary>Runs a host so that bad configuration ends the process with one clear line and exit code 2,
/// not a stack trace.</summary>
public static class HostRunner
{
    public static async Task<int> RunAsync(Func<IHost> build)
    {
        try
        {
            using var host = build();
            // Validate settings before the host starts, so a bad one is reported here in one line rather
            // than logged by the host with a stack trace.
            host.Services.GetService<IStartupValidator>()?.Validate();
            await host.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode;
        }
        catch (Exception error) when (Describe(error) is { } line)
        {
            await Console.Error.WriteLineAsync($"configuration error: {line}").ConfigureAwait(false);
            return 2;
        }
    }

    /// <summary>The one line to print for a start-up failure caused by configuration, else null.</summary>
    public static string? Describe(Exception error) =>
        Reasons(error) is { Count: > 0 } reasons
            ? string.Join("; ", reasons.Select(reason => reason.TrimEnd('.')).Distinct())
            : null;

    /// <summary>Every configuration problem inside <paramref name="error"/>, or null when any part of it is
    /// something else (that one deserves its stack trace). Several settings can fail at once, and one setting
    /// can fail twice (WORKERS=0 fails the streamer's and the collector's options): each is reported once.</summary>
    private static List<string>? Reasons(Exception error) => error switch
    {
        OptionsValidationException validation => [.. validation.Failures],
        InvalidOperationException { InnerException: FormatException or OverflowException or ArgumentException } binding =>
            [binding.Message],
        InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            [binding.Message],
        ConfigurationException configuration => [configuration.Message],
        AggregateException aggregate => aggregate.InnerExceptions.Select(Reasons).ToList() is var parts && parts.TrueForAll(part => part is not null)
            ? [.. parts.SelectMany(part => part!)]
            : null,
        _ => null,
    };
}

/// <summary>A setting that is present but unusable, found while the host is built.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
