using Microsoft.Extensions.Options;
using Polly;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;

namespace Telemetry.Imports;

/// <summary>The import thrown at does not exist (never did, or was forgotten).</summary>
public sealed class ImportNotFoundException(string id) : Exception($"Import '{id}' does not exist.")
{
    public string Id { get; } = id;
}

/// <summary>
/// Where imports live: the same <see cref="IKeyValueStore"/> as the GPU windows (SQLite or memory embedded,
/// the Dapr state store otherwise), so every replica sees the same records and file chunks.
/// <list type="bullet">
/// <item><c>import|{id}</c>: the <see cref="ImportRecord"/>.</item>
/// <item><c>import|{id}|manifest</c>: header and chunk line numbers.</item>
/// <item><c>import|{id}|chunk|{n}</c>: the n-th piece of the uploaded file, whole CSV records only.</item>
/// <item><c>import|index</c>: ids, newest first.</item>
/// </list>
/// </summary>
public sealed class ImportStore(IKeyValueStore store, IOptions<ImportOptions> options, TimeProvider time)
{
    private readonly ResiliencePipeline _conflictRetry = Retries.Conflicts(OptimisticUpdate.DefaultMaxAttempts, time);
    private const int DeletesPerCall = 100;
    public const string IndexKey = "import|index";

    public static string RecordKey(string id) => $"import|{id}";
    public static string ManifestKey(string id) => $"import|{id}|manifest";
    public static string ChunkKey(string id, int chunk) => $"import|{id}|chunk|{chunk}";

    public TimeProvider Time => time;

    public async Task<ImportRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var item = await store.GetAsync(RecordKey(id), cancellationToken).ConfigureAwait(false);
        return item is null ? null : ImportJson.Deserialize<ImportRecord>(item.Value);
    }

    /// <summary>The newest imports first, at most <paramref name="limit"/>, and how many are remembered.</summary>
    public async Task<(IReadOnlyList<ImportRecord> Imports, int Total)> ListAsync(int limit, CancellationToken cancellationToken = default)
    {
        var index = await store.GetAsync(IndexKey, cancellationToken).ConfigureAwait(false);
        var ids = index is null ? [] : ImportJson.Deserialize<ImportIndex>(index.Value).Ids;
        var wanted = ids.Take(limit).Select(RecordKey).ToList();
        var items = await store.GetManyAsync(wanted, cancellationToken).ConfigureAwait(false);
        var result = new List<ImportRecord>(wanted.Count);
        foreach (var key in wanted)
        {
            if (items.TryGetValue(key, out var item)) result.Add(ImportJson.Deserialize<ImportRecord>(item.Value));
        }
        return (result, ids.Count);
    }

    /// <summary>Every remembered import that has not finished (what a restarted runner picks up again).</summary>
    public async Task<IReadOnlyList<ImportRecord>> ListUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        var (imports, _) = await ListAsync(int.MaxValue, cancellationToken).ConfigureAwait(false);
        return [.. imports.Where(r => !ImportStatus.IsFinal(r.Status)).Reverse()];
    }

    /// <summary>Records a new import (its chunks and manifest are already stored) and lists it first. Beyond
    /// <c>IMPORT_HISTORY</c> the oldest <em>finished</em> imports are forgotten; a pending or running one is never
    /// evicted (its workflow or runner would find its record gone), however many newer ones arrive.</summary>
    public async Task CreateAsync(ImportRecord record, CancellationToken cancellationToken = default)
    {
        await store.SaveAsync(RecordKey(record.Id), ImportJson.Serialize(record), WriteCondition.MustNotExist,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        // The ETag read-modify-write of the index, with an asynchronous step inside (which old imports have finished),
        // so it runs on the conflict pipeline directly rather than through OptimisticUpdate's pure change function.
        var forgotten = await _conflictRetry.ExecuteAsync(async token =>
        {
            var item = await store.GetAsync(IndexKey, token).ConfigureAwait(false);
            var index = item is null ? new ImportIndex() : ImportJson.Deserialize<ImportIndex>(item.Value);
            index.Ids.Remove(record.Id);
            index.Ids.Insert(0, record.Id);
            var finished = await FinishedBeyondHistoryAsync(index.Ids, token).ConfigureAwait(false);
            index.Ids.RemoveAll(finished.Contains);
            await store.SaveAsync(IndexKey, ImportJson.Serialize(index), WriteCondition.For(item), cancellationToken: token).ConfigureAwait(false);
            return finished;
        }, cancellationToken).ConfigureAwait(false);
        foreach (var id in forgotten) await ForgetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ids past the first <c>IMPORT_HISTORY</c> whose imports have finished (or whose record is gone).</summary>
    private async Task<List<string>> FinishedBeyondHistoryAsync(List<string> ids, CancellationToken cancellationToken)
    {
        var beyond = ids.Skip(options.Value.History).ToList();
        if (beyond.Count == 0) return [];
        var records = await store.GetManyAsync([.. beyond.Select(RecordKey)], cancellationToken).ConfigureAwait(false);
        return beyond.FindAll(id => !records.TryGetValue(RecordKey(id), out var item)
                                    || ImportStatus.IsFinal(ImportJson.Deserialize<ImportRecord>(item.Value).Status));
    }

    /// <summary>How many imports are pending or running (what <c>IMPORT_MAX_QUEUED</c> bounds).</summary>
    public async Task<int> CountUnfinishedAsync(CancellationToken cancellationToken = default) =>
        (await ListUnfinishedAsync(cancellationToken).ConfigureAwait(false)).Count;

    /// <summary>Read-modify-write of a record, guarded by its ETag and retried on conflict. The change returns
    /// false to leave the record as it is. Returns the record as stored afterwards.</summary>
    public Task<ImportRecord> UpdateAsync(string id, Func<ImportRecord, bool> change, CancellationToken cancellationToken = default) =>
        store.UpdateAsync(RecordKey(id), item =>
        {
            if (item is null) throw new ImportNotFoundException(id);
            var record = ImportJson.Deserialize<ImportRecord>(item.Value);
            return change(record) ? Change<ImportRecord>.Write(ImportJson.Serialize(record), record) : Change<ImportRecord>.Keep(record);
        }, _conflictRetry, cancellationToken: cancellationToken);

    public Task SaveChunkAsync(string id, int chunk, byte[] data, CancellationToken cancellationToken = default) =>
        store.SaveAsync(ChunkKey(id, chunk), data, WriteCondition.Any, TimeSpan.FromHours(options.Value.ChunkTtlHours), cancellationToken);

    public Task SaveManifestAsync(string id, ImportManifest manifest, CancellationToken cancellationToken = default) =>
        store.SaveAsync(ManifestKey(id), ImportJson.Serialize(manifest), WriteCondition.Any,
            TimeSpan.FromHours(options.Value.ChunkTtlHours), cancellationToken);

    public async Task<ImportManifest> GetManifestAsync(string id, CancellationToken cancellationToken = default)
    {
        var item = await store.GetAsync(ManifestKey(id), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The stored file of import '{id}' is gone (its manifest is missing).");
        return ImportJson.Deserialize<ImportManifest>(item.Value);
    }

    public async Task<byte[]> GetChunkAsync(string id, int chunk, CancellationToken cancellationToken = default)
    {
        var item = await store.GetAsync(ChunkKey(id, chunk), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Chunk {chunk} of import '{id}' is missing from the store.");
        return item.Value;
    }

    /// <summary>Removes the stored file: manifest and chunks 0..<paramref name="chunks"/>-1, and gives the space
    /// back where the store keeps it (SQLite). Harmless to repeat.</summary>
    public async Task DeleteFileAsync(string id, int chunks, CancellationToken cancellationToken = default)
    {
        var keys = new List<string> { ManifestKey(id) };
        for (var n = 0; n < chunks; n++) keys.Add(ChunkKey(id, n));
        foreach (var part in keys.Chunk(DeletesPerCall))
        {
            await store.ExecuteAsync([.. part.Select(key => new DeleteOperation(key, WriteCondition.Any))], cancellationToken).ConfigureAwait(false);
        }
        if (chunks > 0 && store is ISpaceReclaiming reclaiming) await reclaiming.ReclaimSpaceAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ForgetAsync(string id, CancellationToken cancellationToken)
    {
        var record = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (record is null) return;
        await DeleteFileAsync(id, record.Chunks, cancellationToken).ConfigureAwait(false);
        await store.DeleteAsync(RecordKey(id), WriteCondition.Any, cancellationToken).ConfigureAwait(false);
    }
}
