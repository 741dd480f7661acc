using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Imports;

/// <summary>How imported rows are stamped.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ImportMode>))]
public enum ImportMode
{
    /// <summary>Each row keeps its own timestamp: historical data, queryable by its original time range, and
    /// re-importing the same file stores nothing twice.</summary>
    [JsonStringEnumMemberName("replay")] Replay,
    /// <summary>Rows are stamped with processing time, as the streamer does.</summary>
    [JsonStringEnumMemberName("stream")] Stream,
}

/// <summary>The life of an import. Completed, failed and cancelled are final.</summary>
public static class ImportStatus
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>A line of the file that was not imported, and why.</summary>
public sealed record ImportProblem(long Line, string Reason);

/// <summary>
/// The durable record of one import, kept in the key-value store under <c>import|{id}</c>. Every step reads
/// and writes it with an ETag guard, so the API, the runner and workflow activities on any replica agree.
/// </summary>
public sealed class ImportRecord
{
    public const int MaxProblems = 20;

    public required string Id { get; init; }
    public required string Status { get; set; }
    public required ImportMode Mode { get; init; }
    public string? Hostname { get; init; }
    public required string FileName { get; init; }
    public required string Format { get; init; }
    public long SizeBytes { get; init; }
    public int Chunks { get; init; }
    public int ChunksDone { get; set; }
    public long RowsRead { get; set; }
    public long SamplesPublished { get; set; }
    public long RowsRejected { get; set; }
    public List<ImportProblem> Problems { get; set; } = [];
    public DateTime CreatedAt { get; init; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public string? Error { get; set; }
    public bool CancelRequested { get; set; }

    /// <summary>Dapr mode: the finished import's workflow instance has been purged from the actor state store.</summary>
    public bool WorkflowPurged { get; set; }

    /// <summary>Stream mode: the chunk whose processing time is fixed in <see cref="StampBase"/>, so a chunk
    /// published again after a crash gets the very same timestamps and the collector drops the repeats.</summary>
    public int? StampChunk { get; set; }
    public DateTime? StampBase { get; set; }

    /// <summary>Stream mode: the next chunk's stamps start after this, so chunks never overlap in time.</summary>
    public DateTime? StampFloor { get; set; }
}

/// <summary>What the steps need to read a chunk on its own: the header and where each chunk starts in the file.</summary>
public sealed class ImportManifest
{
    public required byte[] Header { get; init; }
    public required long HeaderLines { get; init; }
    public required List<long> ChunkFirstLines { get; init; }
}

/// <summary>The list of imports, newest first, under <c>import|index</c>.</summary>
public sealed class ImportIndex
{
    public List<string> Ids { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImportRecord))]
[JsonSerializable(typeof(ImportManifest))]
[JsonSerializable(typeof(ImportIndex))]
[JsonSerializable(typeof(ImportResponse))]
[JsonSerializable(typeof(ImportListResponse))]
[JsonSerializable(typeof(ImportProblemResponse))]
public sealed partial class ImportJsonContext : JsonSerializerContext;

internal static class ImportJson
{
    public static byte[] Serialize<T>(T value) =>
        JsonSerializer.SerializeToUtf8Bytes(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)ImportJsonContext.Default.GetTypeInfo(typeof(T))!);

    public static T Deserialize<T>(byte[] json) =>
        JsonSerializer.Deserialize(json, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)ImportJsonContext.Default.GetTypeInfo(typeof(T))!)
        ?? throw new JsonException($"empty {typeof(T).Name}");
}

/// <summary>An import as the API shows it.</summary>
public sealed record ImportResponse(
    string Id,
    string Status,
    ImportMode Mode,
    string Format,
    string FileName,
    long SizeBytes,
    string? Hostname,
    int Chunks,
    int ChunksDone,
    long RowsRead,
    long SamplesPublished,
    long RowsRejected,
    IReadOnlyList<ImportProblem> Rejections,
    bool CancelRequested,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? FinishedAt,
    string? Error)
{
    public static ImportResponse From(ImportRecord r) => new(
        r.Id, r.Status, r.Mode, r.Format, r.FileName, r.SizeBytes, r.Hostname, r.Chunks, r.ChunksDone, r.RowsRead,
        r.SamplesPublished, r.RowsRejected, r.Problems, r.CancelRequested, r.CreatedAt, r.StartedAt, r.FinishedAt, r.Error);
}

public sealed record ImportListResponse(IReadOnlyList<ImportResponse> Imports, int Total);

/// <summary>The body of a 400 for a file that is not telemetry: the first problems with their line numbers.</summary>
public sealed record ImportProblemResponse(string Title, int Status, string Detail, IReadOnlyList<ImportProblem> Problems);
