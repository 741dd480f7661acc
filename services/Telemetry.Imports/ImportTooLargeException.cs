namespace Telemetry.Imports;

/// <summary>The upload went past <c>IMPORT_MAX_BYTES</c>.</summary>
public sealed class ImportTooLargeException(long limit) : Exception($"The file is larger than the limit of {limit} bytes (IMPORT_MAX_BYTES).")
{
    public long Limit { get; } = limit;
}
