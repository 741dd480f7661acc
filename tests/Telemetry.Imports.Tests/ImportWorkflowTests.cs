using Dapr.Workflow;
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

    // ---------- issue 15: continue-as-new and a finish that always happens ----------

    [Fact]
    public async Task A_long_import_continues_as_new_every_generation_and_keeps_its_counts()
    {
        const int chunks = 200;
        var input = new ImportRequest(Id);
        var done = 0;
        var generations = 0;
        ImportResult result;
        while (true)
        {
            generations++;
            var resumeAt = done;
            var context = Context(chunks);
            context.OnActivity<string, StartOutcome>(StartImportActivity.Name, _ => Task.FromResult(new StartOutcome(chunks, resumeAt, false)));
            result = await new ImportWorkflow().RunAsync(context, input);
            var ran = context.Calls.Where(c => c.Name == ReadAndPublishChunkActivity.Name).Select(c => ((ChunkInput)c.Input!).Chunk).ToList();
            Assert.Equal(Enumerable.Range(resumeAt, Math.Min(ImportWorkflow.ChunksPerGeneration, chunks - resumeAt)), ran);
            // A generation's history: the start, at most ChunksPerGeneration chunks, and the finish.
            Assert.True(context.Calls.Count <= ImportWorkflow.ChunksPerGeneration + 2);
            done += ran.Count;
            if (!context.ContinuedAsNew)
            {
                Assert.Equal(FinishImportActivity.Name, context.Calls[^1].Name);
                break;
            }
            Assert.DoesNotContain(context.Calls, c => c.Name == FinishImportActivity.Name);
            input = Assert.IsType<ImportRequest>(context.ContinuedWith);
            Assert.Equal(new ImportRequest(Id, done * 10L, done * 10L, 0), input);
        }
        Assert.Equal(4, generations); // 64 + 64 + 64 + 8
        Assert.Equal(ImportStatus.Completed, result.Status);
    }

    [Fact]
    public async Task The_progress_of_a_later_generation_counts_from_where_the_first_stopped()
    {
        var context = Context(70);
        context.OnActivity<string, StartOutcome>(StartImportActivity.Name, _ => Task.FromResult(new StartOutcome(70, 64, false)));
        await new ImportWorkflow().RunAsync(context, new ImportRequest(Id, 640, 640, 3));
        Assert.Equal(new ImportProgress(65, 70, 650, 650, 3), context.CustomStatuses.Cast<ImportProgress>().First());
    }

    [Fact]
    public async Task With_the_real_activities_a_file_of_many_generations_is_imported_exactly_once()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(900));
        Assert.True(record.Chunks > ImportWorkflow.ChunksPerGeneration, $"{record.Chunks} chunks");
        var input = new ImportRequest(record.Id);
        ImportResult result;
        var generations = 0;
        do
        {
            generations++;
            var context = new FakeWorkflowContext(record.Id);
            context.OnActivity<string, StartOutcome>(StartImportActivity.Name, id => new StartImportActivity(imports.Steps).RunAsync(null!, id));
            context.OnActivity<ChunkInput, ChunkOutcome>(ReadAndPublishChunkActivity.Name, chunk => new ReadAndPublishChunkActivity(imports.Steps).RunAsync(null!, chunk));
            context.OnActivity<FinishInput, ImportResult>(FinishImportActivity.Name, finish => new FinishImportActivity(imports.Steps).RunAsync(null!, finish));
            result = await new ImportWorkflow().RunAsync(context, input);
            if (!context.ContinuedAsNew) break;
            input = (ImportRequest)context.ContinuedWith!;
        }
        while (true);

        Assert.True(generations >= 2);
        Assert.Equal(new ImportResult(ImportStatus.Completed, 900, 900, 0, null), result);
        Assert.Equal(900, imports.Publisher.Samples.Count());
        Assert.Equal(ImportStatus.Completed, (await imports.Store.GetAsync(record.Id))!.Status);
    }

    [Fact]
    public async Task When_finishing_fails_too_it_is_tried_again_on_durable_timers()
    {
        var finishFailures = 3 * ImportWorkflow.Retry.RetryPolicy!.MaxNumberOfAttempts; // three whole rounds fail
        var finishes = new List<FinishInput>();
        var context = Context(3, chunk: _ => throw new IOException("circuit breaker open"));
        context.OnActivity<FinishInput, ImportResult>(FinishImportActivity.Name, input =>
        {
            if (finishFailures-- > 0) throw new IOException("circuit breaker open");
            finishes.Add(input);
            return Task.FromResult(new ImportResult(input.Status, 0, 0, 0, input.Error));
        });
        var result = await new ImportWorkflow().RunAsync(context, new ImportRequest(Id));

        Assert.Equal(ImportStatus.Failed, result.Status);
        Assert.Contains("circuit breaker open", Assert.Single(finishes).Error);
        Assert.Equal([context.CurrentUtcDateTime.AddMinutes(1), context.CurrentUtcDateTime.AddMinutes(2), context.CurrentUtcDateTime.AddMinutes(4)], context.Timers);
    }

    [Fact]
    public async Task When_finishing_never_succeeds_the_workflow_fails_and_leaves_the_record_to_the_sweep()
    {
        var context = Context(1);
        context.OnActivity<FinishInput, ImportResult>(FinishImportActivity.Name, _ => throw new IOException("store down"));
        await Assert.ThrowsAsync<WorkflowTaskFailedException>(() => new ImportWorkflow().RunAsync(context, new ImportRequest(Id)));
        Assert.Equal(ImportWorkflow.FinishAttempts - 1, context.Timers.Count);
        Assert.Equal(ImportWorkflow.FinishAttempts * ImportWorkflow.Retry.RetryPolicy!.MaxNumberOfAttempts,
            context.Calls.Count(c => c.Name == FinishImportActivity.Name));
    }

    [Fact]
    public async Task Finishing_an_import_whose_record_is_gone_ends_the_workflow_without_retrying()
    {
        var imports = new TestImports();
        var result = await new FinishImportActivity(imports.Steps).RunAsync(null!, new FinishInput("gone", ImportStatus.Completed, null));
        Assert.Equal(FinishImportActivity.Missing, result.Status);
    }
}
