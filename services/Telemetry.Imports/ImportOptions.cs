using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting.Deployment;

namespace Telemetry.Imports;

/// <summary>Settings of the import endpoints and steps, bound from environment variables.</summary>
public sealed class ImportOptions
{
    public const long DefaultMaxBytes = 100L * 1024 * 1024;
    public const int DefaultChunkBytes = 256 * 1024;

    /// <summary>Largest accepted upload (the CSV file itself); a larger one is answered 413.</summary>
    [ConfigurationKeyName("IMPORT_MAX_BYTES"), Range(1, 10L * 1024 * 1024 * 1024)]
    public long MaxBytes { get; set; } = DefaultMaxBytes;

    /// <summary>Target size of one stored chunk of an upload. Chunks end on a record boundary, so one may be
    /// somewhat larger; every chunk stays far below Dapr's 4 MB gRPC message limit.</summary>
    [ConfigurationKeyName("IMPORT_CHUNK_BYTES"), Range(1024, 1024 * 1024)]
    public int ChunkBytes { get; set; } = DefaultChunkBytes;

    /// <summary>Samples per published batch at most.</summary>
    [ConfigurationKeyName("IMPORT_BATCH_SIZE"), Range(1, 100_000)]
    public int BatchSize { get; set; } = DeploymentDefaults.BatchSize;

    /// <summary>How many imports the list remembers; older finished ones are forgotten.</summary>
    [ConfigurationKeyName("IMPORT_HISTORY"), Range(1, 10_000)]
    public int History { get; set; } = 100;

    /// <summary>Uploads this process receives at once; one more is answered 429 with Retry-After. Each holds a
    /// few chunks in memory and writes to the store while it arrives.</summary>
    [ConfigurationKeyName("IMPORT_MAX_UPLOADS"), Range(1, 64)]
    public int MaxUploads { get; set; } = 2;

    /// <summary>Imports pending or running (stored, not finished) at most; a new upload beyond it is answered 429
    /// with Retry-After. With <see cref="MaxBytes"/> this bounds the store space uploads can hold.</summary>
    [ConfigurationKeyName("IMPORT_MAX_QUEUED"), Range(1, 1000)]
    public int MaxQueued { get; set; } = 8;

    /// <summary>Safety net for chunks of an upload whose import never ran (the process died between storing
    /// the file and recording the import): they expire after this many hours.</summary>
    [ConfigurationKeyName("IMPORT_CHUNK_TTL_HOURS"), Range(1, 24 * 365)]
    public int ChunkTtlHours { get; set; } = 24 * 7;
}
