using Microsoft.Extensions.Options;
using Telemetry.Core.Storage;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Embedded;

/// <summary>With <c>CHECKPOINT_ENABLED=true</c>, opens the database in <c>DATA_DIR</c> at start-up, so a
/// directory that cannot hold it stops the process with one line before the host starts (a failure while
/// the host starts is logged by the host with its stack trace).</summary>
public sealed class EmbeddedOptionsValidator : IValidateOptions<EmbeddedOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddedOptions options)
    {
        if (!options.CheckpointEnabled || string.IsNullOrWhiteSpace(options.DataDir)) return ValidateOptionsResult.Success;
        try
        {
            using var store = new SqliteKeyValueStore(options.DatabasePath);
            return ValidateOptionsResult.Success;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            return ValidateOptionsResult.Fail(EmbeddedServiceExtensions.DataDirProblem(options, error));
        }
    }
}
