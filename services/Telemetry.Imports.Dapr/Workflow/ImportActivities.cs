using Dapr.Workflow;

namespace Telemetry.Imports.Workflow;

/// <summary>Marks the import running and tells the workflow how many chunks there are.</summary>
public sealed class StartImportActivity(ImportSteps steps) : WorkflowActivity<string, StartOutcome>
{
    public const string Name = nameof(StartImportActivity);

    public override async Task<StartOutcome> RunAsync(WorkflowActivityContext context, string importId)
    {
        var record = await steps.StartAsync(importId);
        return new StartOutcome(record.Chunks, record.ChunksDone, ImportStatus.IsFinal(record.Status) || record.CancelRequested);
    }
}

/// <summary>Reads chunk n from the store, publishes its samples and records the progress. Safe to repeat.</summary>
public sealed class ReadAndPublishChunkActivity(ImportSteps steps) : WorkflowActivity<ChunkInput, ChunkOutcome>
{
    public const string Name = nameof(ReadAndPublishChunkActivity);

    public override Task<ChunkOutcome> RunAsync(WorkflowActivityContext context, ChunkInput input) =>
        steps.ProcessChunkAsync(input.ImportId, input.Chunk);
}

/// <summary>Sets the final status and removes the stored file.</summary>
public sealed class FinishImportActivity(ImportSteps steps) : WorkflowActivity<FinishInput, ImportResult>
{
    public const string Name = nameof(FinishImportActivity);

    /// <summary>The status a workflow ends with when its import's record no longer exists (nothing left to finish).</summary>
    public const string Missing = "missing";

    public override async Task<ImportResult> RunAsync(WorkflowActivityContext context, FinishInput input)
    {
        try
        {
            var record = await steps.FinishAsync(input.ImportId, input.Status, input.Error);
            return new ImportResult(record.Status, record.RowsRead, record.SamplesPublished, record.RowsRejected, record.Error);
        }
        catch (ImportNotFoundException)
        {
            // Retrying cannot bring a record back; the workflow simply ends.
            return new ImportResult(Missing, 0, 0, 0, $"import '{input.ImportId}' no longer exists");
        }
    }
}
