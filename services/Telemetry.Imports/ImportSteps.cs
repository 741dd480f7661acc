using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Windows;

namespace Telemetry.Imports;

/// <summary>
/// The steps of an import, shared by the embedded runner and the Dapr Workflow activities: start, process a
/// chunk (read it from the store, publish its samples, record progress), finish. Every step is idempotent:
/// running one again after a crash publishes the same samples with the same timestamps (the collector
/// drops the repeats) and counts nothing twice (progress of chunk n is recorded only while chunks_done = n).
/// </summary>
/// <remarks>Imported rows are checked here, where they enter the windows, against what the windows already hold:
/// a row may not give a known GPU another host or model, nor be stamped more than <see cref="MaxFutureSkew"/>
/// ahead of this server's clock (a sample from the future would push <c>last_seen</c> ahead and evict the real
/// window). Such rows are rejected and listed with their line numbers like any other bad row.</remarks>
public sealed partial class ImportSteps(
    ImportStore store,
    ImportPublisher publisher,
    WindowReader windows,
    IOptions<ImportOptions> options,
    ILogger<ImportSteps> logger)
{
    /// <summary>How far ahead of this server's clock an imported sample may be (clocks of the machines that wrote
    /// the file drift a little; a day ahead is not drift).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);

    /// <summary>Marks the import running. Returns the record; when it is final (or cancelled meanwhile) the
    /// caller has nothing to do but finish it.</summary>
    public Task<ImportRecord> StartAsync(string id, CancellationToken cancellationToken = default) =>
        store.UpdateAsync(id, record =>
        {
            if (ImportStatus.IsFinal(record.Status) || record.Status == ImportStatus.Running) return false;
            record.Status = ImportStatus.Running;
            record.StartedAt ??= store.Time.GetUtcNow().UtcDateTime;
            return true;
        }, cancellationToken);

    public async Task<ChunkOutcome> ProcessChunkAsync(string id, int chunk, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new ImportNotFoundException(id);
        if (ImportStatus.IsFinal(record.Status) || record.CancelRequested)
            return new ChunkOutcome(chunk, 0, 0, 0, record.ChunksDone, Stop: true);
        if (record.ChunksDone > chunk)
            return new ChunkOutcome(chunk, 0, 0, 0, record.ChunksDone, Stop: false); // done before a crash
        if (record.ChunksDone < chunk)
            throw new InvalidOperationException($"Import '{id}': chunk {chunk} asked for before chunk {record.ChunksDone}.");

        DateTime? stampBase = null;
        if (record.Mode == ImportMode.Stream)
        {
            if (record.StampChunk != chunk)
            {
                // Fix this chunk's processing time before publishing, so a retry stamps identically.
                record = await store.UpdateAsync(id, r =>
                {
                    if (r.StampChunk == chunk) return false;
                    var now = store.Time.GetUtcNow().UtcDateTime;
                    r.StampChunk = chunk;
                    r.StampBase = r.StampFloor is { } floor && floor > now ? floor : now;
                    return true;
                }, cancellationToken).ConfigureAwait(false);
            }
            stampBase = record.StampBase;
        }

        var manifest = await store.GetManifestAsync(id, cancellationToken).ConfigureAwait(false);
        var data = await store.GetChunkAsync(id, chunk, cancellationToken).ConfigureAwait(false);
        var counts = await PublishChunkAsync(record, manifest, chunk, data, stampBase, cancellationToken).ConfigureAwait(false);

        record = await store.UpdateAsync(id, r =>
        {
            if (r.ChunksDone != chunk) return false;
            r.ChunksDone = chunk + 1;
            r.RowsRead += counts.RowsRead;
            r.SamplesPublished += counts.Samples;
            r.RowsRejected += counts.Problems.Count;
            foreach (var problem in counts.Problems)
            {
                if (r.Problems.Count >= ImportRecord.MaxProblems) break;
                r.Problems.Add(problem);
            }
            if (stampBase is { } stamps) r.StampFloor = stamps.AddTicks(counts.Samples + 1);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        LogChunk(id, chunk, record.Chunks, counts.RowsRead, counts.Samples, counts.Problems.Count);
        return new ChunkOutcome(chunk, counts.RowsRead, counts.Samples, counts.Problems.Count, record.ChunksDone,
            Stop: record.CancelRequested || ImportStatus.IsFinal(record.Status));
    }

    /// <summary>Gives the import its final status (completed, failed or cancelled; completed exactly when every
    /// chunk was recorded, unless it failed) and removes the stored file. Idempotent.</summary>
    public async Task<ImportRecord> FinishAsync(string id, string status, string? error, CancellationToken cancellationToken = default)
    {
        var record = await store.UpdateAsync(id, r =>
        {
            if (ImportStatus.IsFinal(r.Status)) return false;
            // Whether all data went in decides between completed and cancelled, not the order of events.
            r.Status = status switch
            {
                ImportStatus.Completed when r.CancelRequested && r.ChunksDone < r.Chunks => ImportStatus.Cancelled,
                ImportStatus.Cancelled when r.ChunksDone >= r.Chunks && r.Chunks > 0 => ImportStatus.Completed,
                _ => status,
            };
            if (r.Status == ImportStatus.Completed) error = null;
            r.FinishedAt = store.Time.GetUtcNow().UtcDateTime;
            r.StartedAt ??= r.FinishedAt;
            r.Error = error;
            return true;
        }, cancellationToken).ConfigureAwait(false);
        await store.DeleteFileAsync(id, record.Chunks, cancellationToken).ConfigureAwait(false);
        LogFinished(id, record.Status, record.RowsRead, record.SamplesPublished, record.RowsRejected);
        return record;
    }

    /// <summary>Asks an import to stop. A pending one is cancelled here; a running one stops before its next
    /// chunk. Returns a null record for an unknown id, and Accepted false when it had already finished.</summary>
    public async Task<(ImportRecord? Record, bool Accepted)> RequestCancelAsync(string id, CancellationToken cancellationToken = default)
    {
        var accepted = false;
        ImportRecord record;
        try
        {
            record = await store.UpdateAsync(id, r =>
            {
                accepted = !ImportStatus.IsFinal(r.Status);
                if (!accepted || r.CancelRequested) return false;
                r.CancelRequested = true;
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ImportNotFoundException)
        {
            return (null, false);
        }
        if (accepted && record.Status == ImportStatus.Pending)
            record = await FinishAsync(id, ImportStatus.Cancelled, "cancelled before it started", cancellationToken).ConfigureAwait(false);
        return (record, accepted);
    }

    private sealed record ChunkCounts(long RowsRead, long Samples, List<ImportProblem> Problems);

    private async Task<ChunkCounts> PublishChunkAsync(ImportRecord record, ImportManifest manifest, int chunk, byte[] data,
        DateTime? stampBase, CancellationToken cancellationToken)
    {
        var text = new byte[manifest.Header.Length + data.Length];
        manifest.Header.CopyTo(text, 0);
        data.CopyTo(text, manifest.Header.Length);
        // Lines in the header+chunk stream map back to the file: the chunk starts on ChunkFirstLines[chunk].
        var lineShift = manifest.ChunkFirstLines[chunk] - (manifest.HeaderLines + 1);

        using var stream = new MemoryStream(text, writable: false);
        using var reader = TelemetryCsvReader.Open(stream, record.FileName,
            new TelemetryCsvOptions(string.IsNullOrWhiteSpace(record.Hostname) ? Environment.MachineName : record.Hostname));
        var problems = new List<ImportProblem>();
        var batchSequence = 0; // batch ids are the same every time this chunk is replayed
        var batch = new BatchBuilder(() => $"import-{record.Id}-{chunk}-{batchSequence++}");
        long rows = 0, samples = 0, tick = 0;
        // The whole chunk is parsed first (it is small), so the identities of all its GPUs come in one bulk read.
        var results = reader.ReadAll().ToList();
        var identities = new Dictionary<string, GpuIdentity>(
            await windows.GetIdentitiesAsync([.. results.Where(r => r.Row is not null).Select(r => r.Row!.Gpu.Uuid).Distinct()], cancellationToken)
                .ConfigureAwait(false), StringComparer.Ordinal);
        var latest = store.Time.GetUtcNow().UtcDateTime + MaxFutureSkew;
        foreach (var result in results)
        {
            rows++;
            if (result.Error is { } error)
            {
                problems.Add(new ImportProblem(error.LineNumber + lineShift,
                    error.Field is null ? error.Reason : $"field '{error.Field}': {error.Reason}"));
                continue;
            }
            var row = result.Row!;
            if (row.Metrics.Count == 0) continue;
            if (identities.TryGetValue(row.Gpu.Uuid, out var known))
            {
                if (known.Hostname != row.Gpu.Hostname || known.Model != row.Gpu.Model)
                {
                    problems.Add(new ImportProblem(row.LineNumber + lineShift,
                        $"GPU {row.Gpu.Uuid} is known as host '{known.Hostname}', model '{known.Model}'; an import cannot change a GPU's host or model"));
                    continue;
                }
            }
            else
            {
                identities[row.Gpu.Uuid] = row.Gpu; // the first row of a new GPU names it for the rest of the import
            }
            DateTime first;
            if (stampBase is { } baseTime) first = baseTime.AddTicks(tick);
            else if (row.SourceTimestamp is { } source) first = source;
            else
            {
                problems.Add(new ImportProblem(row.LineNumber + lineShift, "no timestamp to replay (import it with mode=stream)"));
                continue;
            }
            if (first > latest)
            {
                problems.Add(new ImportProblem(row.LineNumber + lineShift,
                    $"timestamp {first:O} is more than {MaxFutureSkew.TotalMinutes:0} minutes ahead of this server's clock"));
                continue;
            }
            if (stampBase is { } stamps)
            {
                foreach (var metric in row.Metrics) batch.Add(row.Gpu, new MetricSample(stamps.AddTicks(tick++), metric.Name, metric.Value, row.SourceTimestamp));
            }
            else
            {
                foreach (var metric in row.Metrics) batch.Add(row.Gpu, new MetricSample(first, metric.Name, metric.Value, first));
            }
            if (batch.SampleCount >= options.Value.BatchSize)
            {
                samples += batch.SampleCount;
                await publisher.PublishAsync(batch.Take(), cancellationToken).ConfigureAwait(false);
            }
        }
        if (batch.SampleCount > 0)
        {
            samples += batch.SampleCount;
            await publisher.PublishAsync(batch.Take(), cancellationToken).ConfigureAwait(false);
        }
        return new ChunkCounts(rows, samples, problems);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Import {Id}: chunk {Chunk} of {Chunks}: {Rows} rows, {Samples} samples, {Rejected} rejected")]
    private partial void LogChunk(string id, int chunk, int chunks, long rows, long samples, int rejected);

    [LoggerMessage(Level = LogLevel.Information, Message = "Import {Id} {Status}: {Rows} rows read, {Samples} samples published, {Rejected} rows rejected")]
    private partial void LogFinished(string id, string status, long rows, long samples, long rejected);
}
