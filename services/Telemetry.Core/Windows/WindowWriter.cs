using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Telemetry.Core.Model;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;

namespace Telemetry.Core.Windows;

/// <summary>What one append did.</summary>
public readonly record struct AppendResult(int Stored, int Duplicates, int Evicted, int Conflicts)
{
    public static AppendResult operator +(AppendResult a, AppendResult b) =>
        new(a.Stored + b.Stored, a.Duplicates + b.Duplicates, a.Evicted + b.Evicted, a.Conflicts + b.Conflicts);
}

/// <summary>Told the size of every window a write changed (for metrics).</summary>
public interface IWindowObserver
{
    void WindowWritten(int retainedSamples);
}

/// <summary>The store still refused the batch after every retry (a persistent conflict or fault).</summary>
public sealed class WindowWriteException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Appends batches to per-GPU windows through any <see cref="IKeyValueStore"/>. Safe for any number of
/// concurrent writers, in one process or many, on every store the port allows (Dapr over Redis included):
/// <list type="bullet">
/// <item>Each GPU's manifest is the commit point. An existing manifest is replaced only if its ETag is unchanged
/// since it was read; the first manifest of a GPU is created by a single-operation "must not exist" write (the
/// one creation guard Redis honours), never inside a transaction (where Redis ignores it).</item>
/// <item>New samples go to fresh segment keys first; segments a manifest no longer names are deleted only after
/// that manifest committed.</item>
/// <item>When a commit write fails for any reason, the manifests are read back to learn which GPUs committed
/// (a Redis transaction applies what it can and reports only "Internal"); the others are planned again and their
/// unreferenced new segments deleted. Absence is confirmed by a single read, because a bulk read through Dapr
/// shows a key whose read failed as missing.</item>
/// </list>
/// Repeated samples are recognised, so retrying is always safe.
/// </summary>
public sealed class WindowWriter(IKeyValueStore store, WindowOptions options, ILogger<WindowWriter>? logger = null,
    IWindowObserver? observer = null)
{
    private readonly ILogger _logger = logger ?? NullLogger<WindowWriter>.Instance;
    private readonly SegmentCache _cache = new(SegmentCache.DefaultCapacitySamples);
    private readonly ResiliencePipeline _conflictRetry = Retries.Conflicts(options.MaxWriteAttempts);

    /// <summary>Samples held decoded in the writer's segment cache.</summary>
    internal int CachedSamples => _cache.Samples;

    /// <summary>A generous guess of a stored sample's size (measured: 17–35 bytes), to size bulk reads.</summary>
    private const int EstimatedBytesPerSample = 48;

    public async Task<AppendResult> AppendAsync(IReadOnlyList<GpuSamples> batch, CancellationToken cancellationToken = default)
    {
        var pending = Normalise(batch, out var repeatedInBatch);
        var result = new AppendResult(0, repeatedInBatch, 0, 0);
        if (pending.Count == 0) return result;
        await UntilDoneAsync(async token => result += await AppendRoundAsync(pending, token).ConfigureAwait(false),
            () => pending.Count == 0, () => $"{pending.Count} GPU window(s)", cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Runs <paramref name="round"/> until <paramref name="done"/>: each round that leaves work undone lost a race and is
    /// run again after a short jittered wait (the conflict pipeline of <see cref="Retries"/>), at most
    /// <see cref="WindowOptions.MaxWriteAttempts"/> rounds in all.
    /// </summary>
    private async Task UntilDoneAsync(Func<CancellationToken, Task> round, Func<bool> done, Func<string> what, CancellationToken cancellationToken)
    {
        try
        {
            await _conflictRetry.ExecuteAsync(async token =>
            {
                await round(token).ConfigureAwait(false);
                if (!done()) throw new ConcurrencyConflictException(what());
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConcurrencyConflictException)
        {
            throw new WindowWriteException($"{what()} still conflicting after {options.MaxWriteAttempts} attempts.");
        }
    }

    /// <summary>One planning and commit round over the GPUs still pending; removes those it settled.</summary>
    private async Task<AppendResult> AppendRoundAsync(Dictionary<string, PendingGpu> pending, CancellationToken cancellationToken)
    {
        var result = default(AppendResult);
        var plans = await PlanAsync(pending, cancellationToken).ConfigureAwait(false);
        var building = new List<WindowPlan>();
        foreach (var plan in plans)
        {
            if (plan is null) continue; // stale read: planned again next attempt
            if (!plan.Changed)
            {
                result += new AppendResult(0, plan.Duplicates, plan.Evicted, 0);
                pending.Remove(plan.Gpu.Uuid);
                continue;
            }
            building.Add(plan);
        }
        if (building.Count == 0) return result;

        await RegisterAsync(building, cancellationToken).ConfigureAwait(false);
        var committed = new List<WindowPlan>(building.Count);
        foreach (var group in InWriteSizedGroups(building.FindAll(plan => !plan.IsNewGpu)))
        {
            committed.AddRange(await CommitUpdatesAsync(group, cancellationToken).ConfigureAwait(false));
        }
        var creations = building.FindAll(plan => plan.IsNewGpu);
        if (creations.Count > 0) committed.AddRange(await CommitCreationsAsync(creations, cancellationToken).ConfigureAwait(false));
        if (committed.Count < building.Count)
        {
            result += new AppendResult(0, 0, 0, building.Count - committed.Count);
            _logger.LogDebug("{Count} GPU window(s) changed under this writer; planning them again", building.Count - committed.Count);
        }

        var obsolete = new List<StateOperation>();
        foreach (var plan in committed)
        {
            result += new AppendResult(plan.Added, plan.Duplicates, plan.Evicted, 0);
            observer?.WindowWritten(plan.RetainedAfter);
            pending.Remove(plan.Gpu.Uuid);
            foreach (var key in plan.KeysToDeleteAfterCommit)
            {
                obsolete.Add(new DeleteOperation(key, WriteCondition.Any));
                _cache.Remove(key);
            }
            // The tail counter folds a segment only into one at least as big that fits a segment, so only
            // segments of at most half the capacity are ever read back by later appends of new samples.
            foreach (var (key, samples) in plan.NewSegments)
            {
                if (samples.Count <= options.SegmentCapacity / 2) _cache.Add(key, samples);
            }
        }
        if (obsolete.Count > 0) await DeleteObsoleteAsync(obsolete, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Deletes segments committed manifests no longer name. Best effort: the samples are already committed,
    /// and each manifest lists what its commit replaced, so the next commit of that GPU deletes whatever is left.</summary>
    private async Task DeleteObsoleteAsync(List<StateOperation> obsolete, CancellationToken cancellationToken)
    {
        try
        {
            await store.ExecuteAsync(obsolete, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (IsOutcomeUnknown(error))
        {
            _logger.LogWarning("Deleting {Count} replaced segment(s) failed; the next write of those GPUs deletes them: {Reason}",
                obsolete.Count, error.Message);
        }
    }

    /// <summary>Splits the plans so no single write carries more than <see cref="WindowOptions.MaxWriteBytes"/>
    /// (a big gathered append would otherwise exceed the sidecar's 4 MB gRPC message limit). A GPU's writes
    /// always stay together.</summary>
    private IEnumerable<List<WindowPlan>> InWriteSizedGroups(List<WindowPlan> plans)
    {
        var group = new List<WindowPlan>();
        long bytes = 0;
        foreach (var plan in plans)
        {
            long size = 0;
            foreach (var write in plan.Writes) size += write is UpsertOperation upsert ? upsert.Value.Length + upsert.Key.Length : write.Key.Length;
            if (group.Count > 0 && bytes + size > options.MaxWriteBytes)
            {
                yield return group;
                group = [];
                bytes = 0;
            }
            group.Add(plan);
            bytes += size;
        }
        if (group.Count > 0) yield return group;
    }

    private async Task<List<WindowPlan?>> PlanAsync(Dictionary<string, PendingGpu> pending, CancellationToken cancellationToken)
    {
        var manifestKeys = new List<string>(pending.Count);
        foreach (var uuid in pending.Keys) manifestKeys.Add(WindowKeys.Manifest(uuid));
        var manifests = await ReadConfirmedAsync(manifestKeys, cancellationToken).ConfigureAwait(false);

        var plans = new List<WindowPlan>(pending.Count);
        var segmentReads = new List<List<string>> { new() };
        // Taken from the cache now, so a segment another append replaces meanwhile is still at hand for this plan
        // (whose manifest guard then fails, as it would without the cache).
        var cached = new Dictionary<string, MetricSample[]>(StringComparer.Ordinal);
        long samplesInRead = 0;
        foreach (var (uuid, gpu) in pending)
        {
            var plan = WindowPlan.Create(options, gpu.Identity, gpu.Samples, manifests.GetValueOrDefault(WindowKeys.Manifest(uuid)));
            plans.Add(plan);
            if (plan.SegmentKeysToRead.Count == 0) continue;
            var toRead = new List<string>(plan.SegmentKeysToRead.Count);
            foreach (var key in plan.SegmentKeysToRead)
            {
                if (_cache.TryGet(key, out var samples)) cached[key] = samples;
                else toRead.Add(key);
            }
            if (toRead.Count == 0) continue;
            // Reads are sized like writes: one bulk read of many full segments would pass the 4 MB gRPC limit.
            if (samplesInRead > 0 && (samplesInRead + plan.SamplesToRead) * EstimatedBytesPerSample > options.MaxWriteBytes)
            {
                segmentReads.Add([]);
                samplesInRead = 0;
            }
            segmentReads[^1].AddRange(toRead);
            samplesInRead += plan.SamplesToRead;
        }
        var segments = new Dictionary<string, StoredItem>(StringComparer.Ordinal);
        foreach (var keys in segmentReads)
        {
            if (keys.Count == 0) continue;
            foreach (var (key, item) in await store.GetManyAsync(keys, cancellationToken).ConfigureAwait(false)) segments[key] = item;
        }

        var nonce = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8];
        var built = new List<WindowPlan?>(plans.Count);
        foreach (var plan in plans)
        {
            built.Add(plan.Build(segments, cached, manifest => $"{manifest.NextSegment++:x}-{nonce}") ? plan : null);
        }
        return built;
    }

    /// <summary>Commits GPUs whose manifest exists: their new segments and ETag-guarded manifests in one call.</summary>
    private async Task<List<WindowPlan>> CommitUpdatesAsync(List<WindowPlan> group, CancellationToken cancellationToken)
    {
        try
        {
            await store.ExecuteAsync([.. group.SelectMany(plan => plan.Writes)], cancellationToken).ConfigureAwait(false);
            return group;
        }
        catch (Exception error) when (IsOutcomeUnknown(error))
        {
            _logger.LogDebug(error, "Write of {Count} GPU window(s) failed; reading back which committed", group.Count);
            return await SortOutAsync(group, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Commits GPUs seen for the first time: every new segment first (fresh keys, unconditional), then each
    /// manifest on its own with a "must not exist" guard, so of two writers creating one GPU exactly one wins.</summary>
    private async Task<List<WindowPlan>> CommitCreationsAsync(List<WindowPlan> plans, CancellationToken cancellationToken)
    {
        foreach (var group in InWriteSizedGroups(plans))
        {
            var segments = group.SelectMany(plan => plan.SegmentWrites).ToList();
            if (segments.Count > 0) await store.ExecuteAsync(segments, cancellationToken).ConfigureAwait(false);
        }
        var committed = new List<WindowPlan>(plans.Count);
        await Parallel.ForEachAsync(plans, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (plan, token) =>
            {
                try
                {
                    await store.ExecuteAsync([plan.ManifestWrite], token).ConfigureAwait(false);
                    lock (committed) committed.Add(plan);
                }
                catch (Exception error) when (IsOutcomeUnknown(error))
                {
                    var settled = await SortOutAsync([plan], token).ConfigureAwait(false);
                    lock (committed) committed.AddRange(settled);
                }
            }).ConfigureAwait(false);
        return committed;
    }

    /// <summary>A failed write whose effect must be read back: a conflict, or an error that does not say (Dapr reports
    /// every failed transaction as Internal). Cancellation and invalid calls are not retried.</summary>
    private static bool IsOutcomeUnknown(Exception error) => error is not (OperationCanceledException or ArgumentException);

    /// <summary>After a failed commit write, finds which GPUs committed anyway (a store whose transactions are not
    /// atomic applies some; a write may land although its answer was lost) and deletes the new segments of the
    /// others. If the store cannot even be read, that error goes to the caller.</summary>
    private async Task<List<WindowPlan>> SortOutAsync(List<WindowPlan> plans, CancellationToken cancellationToken)
    {
        var keys = plans.ConvertAll(plan => WindowKeys.Manifest(plan.Gpu.Uuid));
        var current = await ReadConfirmedAsync(keys, cancellationToken).ConfigureAwait(false);
        var committed = new List<WindowPlan>();
        var orphans = new List<StateOperation>();
        foreach (var plan in plans)
        {
            if (plan.IsCommittedIn(current.GetValueOrDefault(WindowKeys.Manifest(plan.Gpu.Uuid))))
            {
                committed.Add(plan);
                continue;
            }
            foreach (var key in plan.NewSegments.Keys) orphans.Add(new DeleteOperation(key, WriteCondition.Any));
        }
        if (orphans.Count > 0) await store.ExecuteAsync(orphans, cancellationToken).ConfigureAwait(false);
        return committed;
    }

    /// <summary>
    /// A bulk read, with every key it shows as missing read again on its own. Through Dapr a key whose read failed
    /// comes back from a bulk read as an item without data (the per-item error is dropped by the .NET SDK), which
    /// would make a writer create a manifest over an existing window; a single read reports the error instead.
    /// Costs a round trip only for keys that are really absent (new GPUs).
    /// </summary>
    private async Task<IReadOnlyDictionary<string, StoredItem>> ReadConfirmedAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var found = await store.GetManyAsync(keys, cancellationToken).ConfigureAwait(false);
        if (found.Count == keys.Count) return found;
        var result = new Dictionary<string, StoredItem>(found, StringComparer.Ordinal);
        var missing = keys.Where(key => !found.ContainsKey(key)).ToList();
        await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (key, token) =>
            {
                if (await store.GetAsync(key, token).ConfigureAwait(false) is { } item)
                {
                    lock (result) result[key] = item;
                }
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Adds new GPUs (or changed identities) to the directory before their first manifest commits,
    /// so a GPU with data is always listed.</summary>
    private async Task RegisterAsync(List<WindowPlan> plans, CancellationToken cancellationToken)
    {
        var byBucket = new Dictionary<string, List<GpuIdentity>>();
        foreach (var plan in plans)
        {
            if (!plan.IsNewGpu && !plan.IdentityChanged) continue;
            var key = WindowKeys.DirectoryBucket(WindowKeys.BucketOf(plan.Gpu.Uuid));
            if (!byBucket.TryGetValue(key, out var list)) byBucket[key] = list = [];
            list.Add(plan.Gpu);
        }
        if (byBucket.Count == 0) return;
        await UntilDoneAsync(token => RegisterRoundAsync(byBucket, token), () => byBucket.Count == 0,
            () => "the GPU directory", cancellationToken).ConfigureAwait(false);
    }

    private async Task RegisterRoundAsync(Dictionary<string, List<GpuIdentity>> byBucket, CancellationToken cancellationToken)
    {
        var current = await ReadConfirmedAsync(byBucket.Keys, cancellationToken).ConfigureAwait(false);
        var updates = new List<StateOperation>();
        var creations = new List<StateOperation>();
        foreach (var (key, gpus) in byBucket)
        {
            var read = current.GetValueOrDefault(key);
            var bucket = read is null ? new DirectoryBucket() : WindowCodec.DecodeBucket(read.Value);
            var changed = false;
            foreach (var gpu in gpus)
            {
                var index = bucket.Gpus.FindIndex(known => known.Uuid == gpu.Uuid);
                if (index >= 0 && bucket.Gpus[index] == gpu) continue;
                if (index >= 0) bucket.Gpus[index] = gpu;
                else bucket.Gpus.Add(gpu);
                changed = true;
            }
            if (changed) (read is null ? creations : updates).Add(new UpsertOperation(key, WindowCodec.Encode(bucket), WriteCondition.For(read)));
        }
        try
        {
            // Existing buckets in one round trip; new ones each on its own, where "must not exist" holds. If a write
            // fails, some may have landed: the retry re-reads, finds the GPUs already listed where a write landed,
            // and writes only the rest.
            if (updates.Count > 0) await store.ExecuteAsync(updates, cancellationToken).ConfigureAwait(false);
            foreach (var creation in creations) await store.ExecuteAsync([creation], cancellationToken).ConfigureAwait(false);
            byBucket.Clear();
        }
        catch (Exception error) when (IsOutcomeUnknown(error))
        {
            // Left in byBucket: the next round re-reads (and reports the store's error if it is down).
        }
    }

    /// <summary>A GPU's new samples, sorted and distinct.</summary>
    private sealed record PendingGpu(GpuIdentity Identity, ArraySegment<MetricSample> Samples);

    /// <summary>A GPU's parts of a gathered batch, before they are put together.</summary>
    private sealed class GpuParts
    {
        public GpuIdentity? Identity;
        public int Samples;
        public readonly List<IReadOnlyList<MetricSample>> Parts = [];
    }

    private static Dictionary<string, PendingGpu> Normalise(IReadOnlyList<GpuSamples> batch, out int repeated)
    {
        // A gathered append names each GPU once per queued batch: with one sample per CSV row that is tens of
        // thousands of groups of a few samples each, so each group costs one dictionary lookup, and each GPU's
        // samples are copied once, as spans, into an array of the exact size (perf: adding each group to a list
        // through IEnumerable, after a second lookup to size it, was ~10% of the embedded pipeline's CPU).
        var byGpu = new Dictionary<string, GpuParts>(StringComparer.Ordinal);
        foreach (var group in batch)
        {
            ref var parts = ref CollectionsMarshal.GetValueRefOrAddDefault(byGpu, group.Gpu.Uuid, out _);
            parts ??= new GpuParts();
            // The latest identity wins (a GPU's description may change between batches).
            if (parts.Identity is null || parts.Identity != group.Gpu) parts.Identity = group.Gpu;
            parts.Parts.Add(group.Samples);
            parts.Samples += group.Samples.Count;
        }
        var pending = new Dictionary<string, PendingGpu>(byGpu.Count, StringComparer.Ordinal);
        repeated = 0;
        foreach (var (uuid, parts) in byGpu)
        {
            var samples = new MetricSample[parts.Samples];
            var filled = 0;
            foreach (var part in parts.Parts)
            {
                switch (part)
                {
                    case List<MetricSample> list:
                        CollectionsMarshal.AsSpan(list).CopyTo(samples.AsSpan(filled));
                        break;
                    case MetricSample[] array:
                        array.CopyTo(samples, filled);
                        break;
                    default:
                        for (var i = 0; i < part.Count; i++) samples[filled + i] = part[i];
                        break;
                }
                filled += part.Count;
            }
            var distinct = SampleOrder.SortDistinct(samples);
            repeated += samples.Length - distinct;
            pending[uuid] = new PendingGpu(parts.Identity!, new ArraySegment<MetricSample>(samples, 0, distinct));
        }
        return pending;
    }
}
