using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Telemetry.Core.Model;

namespace Telemetry.Core.Pipeline;

/// <summary>Keeps a batch that failed for a reason waiting cannot fix, so the pipeline moves on without losing
/// it: an operator finds it, fixes the cause and replays it.</summary>
public interface IQuarantine
{
    /// <summary>Keeps <paramref name="batch"/>; <paramref name="stage"/> says where it failed ("publish", "store").</summary>
    Task QuarantineAsync(TelemetryBatch batch, string stage, Exception reason, CancellationToken cancellationToken = default);

    /// <summary>Every batch kept, oldest first, with the id to <see cref="Release"/> it by.</summary>
    IReadOnlyList<(string Id, TelemetryBatch Batch)> List();

    /// <summary>Forgets a batch that has been replayed.</summary>
    void Release(string id);
}

/// <summary>
/// One file per quarantined batch in a directory: <c>{utc time}-{stage}-{batch id}.json</c> holds the batch in the
/// pipeline's wire format (what the streamer publishes and the collector's subscription accepts), and a
/// <c>.reason.txt</c> beside it says where and why it failed. A file per batch needs no database that might be
/// the very thing failing, and replaying one is a copy of a file.
/// </summary>
public sealed class FileQuarantine(string directory, ILogger<FileQuarantine>? logger = null) : IQuarantine
{
    private readonly ILogger _logger = logger ?? NullLogger<FileQuarantine>.Instance;

    public string Directory { get; } = Path.GetFullPath(directory);

    public async Task QuarantineAsync(TelemetryBatch batch, string stage, Exception reason, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff'Z'}-{stage}-{SafeName(batch.BatchId)}";
        var path = Path.Combine(Directory, name + ".json");
        // Written under a temporary name and renamed, so a replay never picks up half a file.
        var temporary = path + ".partial";
        await File.WriteAllBytesAsync(temporary, TelemetryJson.Serialize(batch), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
        var text = $"stage: {stage}\nbatch: {batch.BatchId}\nsamples: {batch.SampleCount}\nquarantined: {DateTime.UtcNow:O}\n" +
                   $"reason: {reason.GetType().FullName}: {reason.Message}\n\n{reason}\n";
        await File.WriteAllTextAsync(Path.Combine(Directory, name + ".reason.txt"), text, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
        _logger.LogError("Quarantined batch {BatchId} ({Samples} samples) at {Stage}: {Reason}. Kept in {Path}; fix the cause and replay it (README, Failures)",
            batch.BatchId, batch.SampleCount, stage, $"{reason.GetType().Name}: {reason.Message}", path);
    }

    public IReadOnlyList<(string Id, TelemetryBatch Batch)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var kept = new List<(string, TelemetryBatch)>();
        // The names start with the time, so their order is the order they were quarantined in.
        foreach (var path in System.IO.Directory.GetFiles(Directory, "*.json").Order(StringComparer.Ordinal))
        {
            if (TelemetryJson.TryDeserialize(File.ReadAllBytes(path), out var batch, out var problem)) kept.Add((path, batch!));
            else _logger.LogWarning("Quarantined file {Path} is not a batch ({Problem}); left as it is", path, problem);
        }
        return kept;
    }

    public void Release(string id)
    {
        File.Delete(Path.ChangeExtension(id, ".reason.txt"));
        File.Delete(id);
    }

    /// <summary>Batch ids come from the streamer (host name, GUID, counters) but are data all the same: only
    /// letters, digits and <c>-_.+</c> reach the file name.</summary>
    private static string SafeName(string batchId)
    {
        var name = new StringBuilder(Math.Min(batchId.Length, 100));
        foreach (var c in batchId.AsSpan(0, Math.Min(batchId.Length, 100)))
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '+' ? c : '_');
        }
        return name.ToString();
    }
}
