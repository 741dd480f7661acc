using Microsoft.Extensions.Options;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;

namespace Telemetry.Streamer;

/// <summary>Opens <c>CSV_FILE</c> at start-up, so a missing file or an unknown header stops the process
/// with one line before anything is published.</summary>
public sealed class StreamerOptionsValidator : IValidateOptions<StreamerOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamerOptions options)
    {
        try
        {
            using var reader = TelemetryCsvReader.Open(options.CsvFile, new TelemetryCsvOptions(options.NvidiaSmiHostname));
            return ValidateOptionsResult.Success;
        }
        catch (TelemetryCsvException error)
        {
            return ValidateOptionsResult.Fail($"CSV_FILE: {error.Message}");
        }
    }
}
