using Telemetry.Imports.Workflow;

namespace Telemetry.Imports.Tests;

/// <summary>The orchestration alone, with a hand-made WorkflowContext and scripted activities.</summary>
public class ImportWorkflowTests
{
    private const string Id = "imp-1";

    private static FakeWorkflowContext Context(int chunks, Func<int, Task<ChunkOutcome>>? chunk = null, List<FinishInput>? finishes = null)
    {
        var context = new FakeWorkflowContext(Id);
        context.OnActivity<string, StartOutcome>(StartImportActivity.Name, _ => Task.FromResult(new StartOutcome(chunks, 0, false)));
        context.OnActivity<ChunkInput, ChunkOutcome>(ReadAndPublishChunkActivity.Name, input =>
            chunk?.Invoke(input.Chunk) ?? Task.FromResult(new ChunkOutcome(input.Chunk, 10, 10, 0, input.Chunk + 1, false)));
        context.OnActivity<FinishInput, ImportResult>(FinishImportActivity.Name, input =>
        {
            finishes?.Add(input);
            return Task.FromResult(new ImportResult(input.Status, 0, 0, 0, input.Error));
        });
        return context;
    }

    [Fact]
    public async Task Chunks_are_processed_in_order_then_the_import_is_finished()
    {
        var finishes = new List<FinishInput>();
        var context = Context(4, finishes: finishes);
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));

        Assert.Equal(ImportStatus.Completed, result.Status);
        Assert.Equal(
            [StartImportActivity.Name, .. Enumerable.Repeat(ReadAndPublishChunkActivity.Name, 4), FinishImportActivity.Name],
            context.Calls.Select(c => c.Name));
        Assert.Equal([0, 1, 2, 3], context.Calls.Where(c => c.Name == ReadAndPublishChunkActivity.Name).Select(c => ((ChunkInput)c.Input!).Chunk));
        Assert.Equal([new FinishInput(Id, ImportStatus.Completed, null)], finishes);
        Assert.All(context.Calls, c => Assert.Same(ImportWorkflow.Retry, c.Options));
    }

    [Fact]
    public async Task Progress_is_published_after_every_chunk()
    {
        var context = Context(3);
        await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));
        Assert.Equal(
            [new ImportProgress(1, 3, 10, 10, 0), new ImportProgress(2, 3, 20, 20, 0), new ImportProgress(3, 3, 30, 30, 0)],
            context.CustomStatuses.Cast<ImportProgress>());
    }

    [Fact]
    public async Task A_resumed_import_starts_at_the_first_chunk_not_done()
    {
        var context = Context(5);
        context.OnActivity<string, StartOutcome>(StartImportActivity.Name, _ => Task.FromResult(new StartOutcome(5, 3, false)));
        await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));
        Assert.Equal([3, 4], context.Calls.Where(c => c.Name == ReadAndPublishChunkActivity.Name).Select(c => ((ChunkInput)c.Input!).Chunk));
    }

    [Fact]
    public async Task A_failed_activity_is_retried_by_the_policy()
    {
        var failures = 2;
        var context = Context(2, chunk: n =>
        {
            if (n == 1 && failures-- > 0) throw new IOException("pub/sub unavailable");
            return Task.FromResult(new ChunkOutcome(n, 10, 10, 0, n + 1, false));
        });
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));

        Assert.Equal(ImportStatus.Completed, result.Status);
        Assert.Equal([1, 1, 2, 3], context.Calls.Where(c => c.Name == ReadAndPublishChunkActivity.Name).Select(c => c.Attempt));
        Assert.True(ImportWorkflow.Retry.RetryPolicy!.MaxNumberOfAttempts >= 3);
    }

    [Fact]
    public async Task When_retries_are_spent_the_import_fails_with_the_reason()
    {
        var finishes = new List<FinishInput>();
        var context = Context(3, chunk: n => n == 1 ? throw new IOException("store gone") : Task.FromResult(new ChunkOutcome(n, 1, 1, 0, n + 1, false)), finishes);
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));

        Assert.Equal(ImportStatus.Failed, result.Status);
        Assert.Contains("store gone", result.Error);
        Assert.Equal(ImportWorkflow.Retry.RetryPolicy!.MaxNumberOfAttempts,
            context.Calls.Count(c => c.Name == ReadAndPublishChunkActivity.Name && ((ChunkInput)c.Input!).Chunk == 1));
        Assert.DoesNotContain(context.Calls, c => c.Name == ReadAndPublishChunkActivity.Name && ((ChunkInput)c.Input!).Chunk == 2);
        Assert.Single(finishes);
    }

    [Fact]
    public async Task A_cancel_event_stops_the_import_before_the_next_chunk()
    {
        FakeWorkflowContext? context = null;
        context = Context(5, chunk: n =>
        {
            if (n == 1) context!.RaiseEvent(ImportWorkflow.CancelEvent, "cancel");
            return Task.FromResult(new ChunkOutcome(n, 1, 1, 0, n + 1, false));
        });
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));

        Assert.Equal(ImportStatus.Cancelled, result.Status);
        Assert.Equal([0, 1], context.Calls.Where(c => c.Name == ReadAndPublishChunkActivity.Name).Select(c => ((ChunkInput)c.Input!).Chunk));
        Assert.Equal(FinishImportActivity.Name, context.Calls[^1].Name);
    }

    [Fact]
    public async Task A_cancel_request_read_by_the_chunk_activity_also_stops_it()
    {
        var context = Context(5, chunk: n => Task.FromResult(new ChunkOutcome(n, 1, 1, 0, n + 1, Stop: n == 2)));
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));
        Assert.Equal(ImportStatus.Cancelled, result.Status);
        Assert.Equal(3, context.Calls.Count(c => c.Name == ReadAndPublishChunkActivity.Name));
    }

    [Fact]
    public async Task With_the_real_activities_the_workflow_imports_a_file_exactly_once()
    {
        var imports = new TestImports(chunkBytes: 1024);
        imports.Publisher.FailuresLeft = 1; // the first publish fails; the retry policy runs the chunk again
        var record = await imports.UploadAsync(Csv.Dcgm(90));
        var context = new FakeWorkflowContext(record.Id);
        context.OnActivity<string, StartOutcome>(StartImportActivity.Name, id => new StartImportActivity(imports.Steps).RunAsync(null!, id));
        context.OnActivity<ChunkInput, ChunkOutcome>(ReadAndPublishChunkActivity.Name, input => new ReadAndPublishChunkActivity(imports.Steps).RunAsync(null!, input));
        context.OnActivity<FinishInput, ImportResult>(FinishImportActivity.Name, input => new FinishImportActivity(imports.Steps).RunAsync(null!, input));

        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(record.Id));

        Assert.Equal(new ImportResult(ImportStatus.Completed, 90, 90, 0, null), result);
        Assert.Equal(90, imports.Publisher.Samples.Count());
        Assert.Equal(ImportStatus.Completed, (await imports.Store.GetAsync(record.Id))!.Status);
        Assert.False(await imports.HasKeyAsync(ImportStore.ManifestKey(record.Id)));
    }
}
