using Dapr.Workflow;

namespace Telemetry.Imports.Workflow;

/// <summary>Input of <see cref="ImportWorkflow"/>: the import's id (also the workflow instance id), and the counts
/// earlier generations of the instance reached before it continued as new.</summary>
public sealed record ImportRequest(string ImportId, long RowsRead = 0, long SamplesPublished = 0, long RowsRejected = 0);

/// <summary>What the workflow ended with; the same numbers the import record shows.</summary>
public sealed record ImportResult(string Status, long RowsRead, long SamplesPublished, long RowsRejected, string? Error);

/// <summary>Progress the workflow publishes as its custom status.</summary>
public sealed record ImportProgress(int ChunksDone, int Chunks, long RowsRead, long SamplesPublished, long RowsRejected);

/// <summary>Input of <see cref="ReadAndPublishChunkActivity"/>.</summary>
public sealed record ChunkInput(string ImportId, int Chunk);

/// <summary>Input of <see cref="FinishImportActivity"/>.</summary>
public sealed record FinishInput(string ImportId, string Status, string? Error);

/// <summary>What <see cref="StartImportActivity"/> found: how many chunks, how many were already done, and
/// whether there is anything left to do.</summary>
public sealed record StartOutcome(int Chunks, int ChunksDone, bool Stop);

/// <summary>
/// An import as a Dapr Workflow: start, then one activity per chunk in file order, then finish. The
/// orchestration does no I/O of its own (the activities do), so replaying its history after a crash takes
/// it to where it was: completed chunks are not run again, and the chunk that was in flight runs again,
/// which is harmless (see <see cref="ImportSteps"/>). A failing activity is retried with back-off; when the
/// retries are spent the import is marked failed. A <c>cancel</c> event, or a cancel request the chunk
/// activity reads from the record, stops it before the next chunk.
/// <list type="bullet">
/// <item>Every <see cref="ChunksPerGeneration"/> chunks the instance continues as new: its history, which every
/// turn replays and which daprd sends whole to the app, stays bounded whatever the file's size (a 4 MiB dispatch
/// stalls daprd 1.18). The start step resumes from the record's <c>chunks_done</c>.</item>
/// <item>Finishing is outside the failure path: if the finish step fails too (the store is down), the workflow
/// waits on durable timers and tries again (<see cref="FinishAttempts"/> rounds, about an hour). Should that
/// still fail, the workflow ends Failed and the scheduler's periodic sweep gives the record its final status.</item>
/// </list>
/// </summary>
public sealed class ImportWorkflow : Workflow<ImportRequest, ImportResult>
{
    public const string Name = nameof(ImportWorkflow);
    public const string CancelEvent = "cancel";

    /// <summary>Chunks one generation of the instance runs before continuing as new. Each chunk adds a scheduled and a
    /// completed event (a few hundred bytes: inputs and outcomes are small), so a generation's history stays far
    /// below daprd's 4 MiB message limit.</summary>
    public const int ChunksPerGeneration = 64;

    /// <summary>Rounds of the finish step (each with <see cref="Retry"/>'s own attempts) before the workflow gives up.</summary>
    public const int FinishAttempts = 7;

    /// <summary>Retries of one activity: 5 attempts, 1 s doubling to at most 30 s.</summary>
    public static readonly WorkflowTaskOptions Retry = new(new WorkflowRetryPolicy(
        maxNumberOfAttempts: 5,
        firstRetryInterval: TimeSpan.FromSeconds(1),
        backoffCoefficient: 2,
        maxRetryInterval: TimeSpan.FromSeconds(30)));

    public override async Task<ImportResult> RunAsync(WorkflowContext context, ImportRequest input)
    {
        var cancelled = context.WaitForExternalEventAsync<string>(CancelEvent);
        string status = ImportStatus.Completed;
        string? error = null;
        long rows = input.RowsRead, samples = input.SamplesPublished, rejected = input.RowsRejected;
        try
        {
            var start = await context.CallActivityAsync<StartOutcome>(StartImportActivity.Name, input.ImportId, Retry);
            var stop = start.Stop;
            var ran = 0;
            for (var chunk = start.ChunksDone; chunk < start.Chunks && !stop; chunk++)
            {
                if (cancelled.IsCompleted)
                {
                    stop = true;
                    break;
                }
                if (ran == ChunksPerGeneration)
                {
                    // A cancel event raised meanwhile is carried over (preserveUnprocessedEvents), and the record's
                    // cancel flag is read by the next chunk activity anyway.
                    var next = new ImportRequest(input.ImportId, rows, samples, rejected);
                    context.ContinueAsNew(next, preserveUnprocessedEvents: true);
                    return new ImportResult(ImportStatus.Running, rows, samples, rejected, null);
                }
                var outcome = await context.CallActivityAsync<ChunkOutcome>(
                    ReadAndPublishChunkActivity.Name, new ChunkInput(input.ImportId, chunk), Retry);
                ran++;
                rows += outcome.RowsRead;
                samples += outcome.SamplesPublished;
                rejected += outcome.RowsRejected;
                context.SetCustomStatus(new ImportProgress(outcome.ChunksDone, start.Chunks, rows, samples, rejected));
                stop = outcome.Stop;
            }
            if (stop || cancelled.IsCompleted)
            {
                status = ImportStatus.Cancelled;
                error = "cancelled on request";
            }
        }
        catch (WorkflowTaskFailedException failure)
        {
            status = ImportStatus.Failed;
            error = failure.FailureDetails?.ErrorMessage ?? failure.Message;
        }
        return await FinishAsync(context, new FinishInput(input.ImportId, status, error));
    }

    /// <summary>The finish step until it succeeds: after each failed round a durable timer waits 1, 2, 4 … 32 minutes.</summary>
    private static async Task<ImportResult> FinishAsync(WorkflowContext context, FinishInput finish)
    {
        for (var round = 1; ; round++)
        {
            try
            {
                return await context.CallActivityAsync<ImportResult>(FinishImportActivity.Name, finish, Retry);
            }
            catch (WorkflowTaskFailedException) when (round < FinishAttempts)
            {
                await context.CreateTimer(context.CurrentUtcDateTime.AddMinutes(1 << (round - 1)), CancellationToken.None);
            }
        }
    }
}
