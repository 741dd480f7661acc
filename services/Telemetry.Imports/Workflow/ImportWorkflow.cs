using Dapr.Workflow;

namespace Telemetry.Imports.Workflow;

/// <summary>Input of <see cref="ImportWorkflow"/>: the import's id (also the workflow instance id).</summary>
public sealed record ImportRequest(string ImportId);

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
/// </summary>
public sealed class ImportWorkflow : Workflow<ImportRequest, ImportResult>
{
    public const string Name = nameof(ImportWorkflow);
    public const string CancelEvent = "cancel";

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
        try
        {
            var start = await context.CallActivityAsync<StartOutcome>(StartImportActivity.Name, input.ImportId, Retry);
            var stop = start.Stop;
            long rows = 0, samples = 0, rejected = 0;
            for (var chunk = start.ChunksDone; chunk < start.Chunks && !stop; chunk++)
            {
                if (cancelled.IsCompleted)
                {
                    stop = true;
                    break;
                }
                var outcome = await context.CallActivityAsync<ChunkOutcome>(
                    ReadAndPublishChunkActivity.Name, new ChunkInput(input.ImportId, chunk), Retry);
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

        var final = await context.CallActivityAsync<ImportResult>(
            FinishImportActivity.Name, new FinishInput(input.ImportId, status, error), Retry);
        return final;
    }
}
