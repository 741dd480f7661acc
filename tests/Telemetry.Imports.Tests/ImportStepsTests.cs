using Microsoft.Extensions.Logging.Abstractions;
using Telemetry.Imports.Workflow;
using Telemetry.Testing;

namespace Telemetry.Imports.Tests;

/// <summary>The import steps the runner and the workflow activities share.</summary>
public class ImportStepsTests
{
    [Fact]
    public async Task Upload_stores_the_file_in_chunks_and_records_a_pending_import()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(60));

        Assert.Equal(ImportStatus.Pending, record.Status);
        Assert.Equal("dcgm", record.Format);
        Assert.True(record.Chunks > 1);
        Assert.Equal([record.Id], imports.Scheduled);
        Assert.Equal(record.Id, (await imports.Store.GetAsync(record.Id))!.Id);
        for (var n = 0; n < record.Chunks; n++) Assert.True(await imports.HasKeyAsync(ImportStore.ChunkKey(record.Id, n)));
        Assert.False(await imports.HasKeyAsync(ImportStore.ChunkKey(record.Id, record.Chunks)));
    }

    [Fact]
    public async Task An_unrecognised_header_is_rejected_on_line_1_and_nothing_is_stored()
    {
        var imports = new TestImports();
        var error = await Assert.ThrowsAsync<ImportRejectedException>(() => imports.UploadAsync("name,colour\nx,red\n"));
        Assert.Equal(1, error.Problems[0].Line);
        Assert.Contains("unrecognised header", error.Problems[0].Reason);
        Assert.Empty(imports.Scheduled);
        Assert.False(await imports.HasKeyAsync(ImportStore.IndexKey));
    }

    [Fact]
    public async Task Replay_keeps_the_rows_own_timestamps_and_counts_every_chunk_once()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(60));
        await imports.Steps.StartAsync(record.Id);
        for (var n = 0; n < record.Chunks; n++) await imports.Steps.ProcessChunkAsync(record.Id, n);
        var done = await imports.Steps.FinishAsync(record.Id, ImportStatus.Completed, null);

        Assert.Equal(ImportStatus.Completed, done.Status);
        Assert.Equal(60, done.RowsRead);
        Assert.Equal(60, done.SamplesPublished);
        Assert.Equal(0, done.RowsRejected);
        var expected = new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);
        Assert.All(imports.Publisher.Samples, s => Assert.Equal(expected, s.Timestamp));
        Assert.All(imports.Publisher.Samples, s => Assert.Equal(expected, s.SourceTimestamp));
        Assert.Equal(60, imports.Publisher.Samples.Select(s => s.MetricName).Distinct().Count());
        // The stored file is gone once the import ended.
        Assert.False(await imports.HasKeyAsync(ImportStore.ChunkKey(record.Id, 0)));
        Assert.False(await imports.HasKeyAsync(ImportStore.ManifestKey(record.Id)));
    }

    [Fact]
    public async Task Running_a_chunk_again_publishes_the_same_samples_and_counts_nothing_twice()
    {
        foreach (var mode in new[] { ImportMode.Replay, ImportMode.Stream })
        {
            var imports = new TestImports(chunkBytes: 1024);
            var record = await imports.UploadAsync(Csv.Dcgm(30), mode);
            await imports.Steps.StartAsync(record.Id);

            await imports.Steps.ProcessChunkAsync(record.Id, 0);
            var first = imports.Publisher.Samples.ToList();
            // As after a crash between publishing and recording: forget the progress, run the chunk again.
            await imports.Store.UpdateAsync(record.Id, r => { r.ChunksDone = 0; r.RowsRead = 0; r.SamplesPublished = 0; return true; });
            imports.Publisher.Batches.Clear();
            await imports.Steps.ProcessChunkAsync(record.Id, 0);
            Assert.Equal(first, imports.Publisher.Samples.ToList());

            // And a chunk already recorded is not counted again.
            imports.Publisher.Batches.Clear();
            var again = await imports.Steps.ProcessChunkAsync(record.Id, 0);
            Assert.Empty(imports.Publisher.Batches);
            Assert.Equal(1, again.ChunksDone);
            Assert.Equal(first.Count, (await imports.Store.GetAsync(record.Id))!.SamplesPublished);
        }
    }

    [Fact]
    public async Task Stream_mode_stamps_processing_time_in_increasing_order_across_chunks()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var before = DateTime.UtcNow;
        var record = await imports.UploadAsync(Csv.Dcgm(60), ImportMode.Stream);
        await imports.Steps.StartAsync(record.Id);
        for (var n = 0; n < record.Chunks; n++) await imports.Steps.ProcessChunkAsync(record.Id, n);

        var stamps = imports.Publisher.Samples.Select(s => s.Timestamp).ToList();
        Assert.All(stamps, t => Assert.True(t >= before && t <= DateTime.UtcNow));
        Assert.Equal(stamps.Count, stamps.Distinct().Count());
        // Every chunk's stamps come after the previous chunk's (batch ids are import-{id}-{chunk}-{n}).
        var byChunk = imports.Publisher.Batches
            .GroupBy(b => int.Parse(b.BatchId.Split('-')[2]))
            .OrderBy(g => g.Key)
            .Select(g => g.SelectMany(b => b.Gpus).SelectMany(x => x.Samples).Select(x => x.Timestamp).ToList())
            .ToList();
        Assert.Equal(record.Chunks, byChunk.Count);
        for (var n = 1; n < byChunk.Count; n++) Assert.True(byChunk[n].Min() > byChunk[n - 1].Max());
        Assert.All(imports.Publisher.Samples, s => Assert.Equal(new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc), s.SourceTimestamp));
    }

    [Fact]
    public async Task Bad_rows_are_rejected_with_their_line_numbers_in_the_file()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var lines = Csv.Dcgm(40).Split('\n').ToList();
        lines[5] = "\"2025-07-18T20:42:34Z\",\"M\",\"0\",\"nvidia0\",\"GPU-x\",\"H100\",\"h\",\"\",\"\",\"\",\"not-a-number\",\"\"";
        lines[35] = "\"yesterday\",\"M\",\"0\",\"nvidia0\",\"GPU-x\",\"H100\",\"h\",\"\",\"\",\"\",\"1\",\"\"";
        var record = await imports.UploadAsync(string.Join('\n', lines));
        await imports.Steps.StartAsync(record.Id);
        for (var n = 0; n < record.Chunks; n++) await imports.Steps.ProcessChunkAsync(record.Id, n);
        var done = (await imports.Store.GetAsync(record.Id))!;

        Assert.True(record.Chunks > 2);
        Assert.Equal(40, done.RowsRead);
        Assert.Equal(2, done.RowsRejected);
        Assert.Equal(38, done.SamplesPublished);
        Assert.Equal([6L, 36L], done.Problems.Select(p => p.Line));
    }

    [Fact]
    public async Task Nvidia_smi_rows_get_the_hostname_given()
    {
        var imports = new TestImports();
        var record = await imports.UploadAsync(await File.ReadAllBytesAsync(Csv.Fixture("nvidia_smi.csv")), hostname: "night-box");
        Assert.Equal("nvidia-smi", record.Format);
        await imports.Steps.StartAsync(record.Id);
        await imports.Steps.ProcessChunkAsync(record.Id, 0);
        var gpus = imports.Publisher.Batches.SelectMany(b => b.Gpus).ToList();
        Assert.All(gpus, g => Assert.Equal("night-box", g.Gpu.Hostname));
        Assert.Equal(3, (await imports.Store.GetAsync(record.Id))!.RowsRead);
    }

    [Fact]
    public async Task Cancelling_a_pending_import_cancels_it_at_once_and_a_finished_one_is_refused()
    {
        var imports = new TestImports();
        var record = await imports.UploadAsync(Csv.Dcgm(5));
        var (cancelled, accepted) = await imports.Steps.RequestCancelAsync(record.Id);
        Assert.True(accepted);
        Assert.Equal(ImportStatus.Cancelled, cancelled!.Status);
        Assert.False(await imports.HasKeyAsync(ImportStore.ChunkKey(record.Id, 0)));

        var (again, acceptedAgain) = await imports.Steps.RequestCancelAsync(record.Id);
        Assert.False(acceptedAgain);
        Assert.Equal(ImportStatus.Cancelled, again!.Status);
        Assert.Null((await imports.Steps.RequestCancelAsync("nope")).Record);
    }

    [Fact]
    public async Task A_running_import_stops_at_the_next_chunk_once_cancelled()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(60));
        await imports.Steps.StartAsync(record.Id);
        var first = await imports.Steps.ProcessChunkAsync(record.Id, 0);
        Assert.False(first.Stop);
        await imports.Steps.RequestCancelAsync(record.Id);
        var second = await imports.Steps.ProcessChunkAsync(record.Id, 1);
        Assert.True(second.Stop);
        var done = await imports.Steps.FinishAsync(record.Id, ImportStatus.Cancelled, "cancelled on request");
        Assert.Equal(ImportStatus.Cancelled, done.Status);
        Assert.Equal(1, done.ChunksDone);
    }

    [Fact]
    public async Task The_in_process_runner_resumes_an_interrupted_import_from_its_recorded_progress()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(60));
        await imports.Steps.StartAsync(record.Id);
        await imports.Steps.ProcessChunkAsync(record.Id, 0);
        await imports.Steps.ProcessChunkAsync(record.Id, 1);
        var publishedBefore = imports.Publisher.Samples.Count();

        // A new process: the runner finds the running import in the store and carries on.
        var runner = new InProcessImportRunner(imports.Store, imports.Steps, NullLogger<InProcessImportRunner>.Instance);
        await runner.StartAsync(CancellationToken.None);
        var done = await WaitForFinalAsync(imports.Store, record.Id);
        await runner.StopAsync(CancellationToken.None);

        Assert.Equal(ImportStatus.Completed, done.Status);
        Assert.Equal(60, done.RowsRead);
        Assert.Equal(60, done.SamplesPublished);
        Assert.Equal(60, imports.Publisher.Samples.Count());
        Assert.True(publishedBefore is > 0 and < 60);
    }

    [Fact]
    public async Task Activities_run_the_steps()
    {
        var imports = new TestImports(chunkBytes: 1024);
        var record = await imports.UploadAsync(Csv.Dcgm(30));
        var start = await new StartImportActivity(imports.Steps).RunAsync(null!, record.Id);
        Assert.Equal(new StartOutcome(record.Chunks, 0, false), start);
        Assert.Equal(ImportStatus.Running, (await imports.Store.GetAsync(record.Id))!.Status);

        var chunk = await new ReadAndPublishChunkActivity(imports.Steps).RunAsync(null!, new ChunkInput(record.Id, 0));
        Assert.Equal(1, chunk.ChunksDone);
        Assert.True(chunk.SamplesPublished > 0);

        var result = await new FinishImportActivity(imports.Steps).RunAsync(null!, new FinishInput(record.Id, ImportStatus.Failed, "boom"));
        Assert.Equal(ImportStatus.Failed, result.Status);
        Assert.Equal("boom", result.Error);
        Assert.Equal(chunk.SamplesPublished, result.SamplesPublished);
    }

    internal static async Task<ImportRecord> WaitForFinalAsync(ImportStore store, string id) =>
        (await Eventually.ValueAsync(() => store.GetAsync(id), record => record is not null && ImportStatus.IsFinal(record.Status),
            $"import {id} to finish", describe: record => $"status {record?.Status}"))!;
}

/// <summary>Issue 15 item 4: the history bound forgets only finished imports, and item 3: waiting imports are bounded.</summary>
public class ImportHistoryTests
{
    [Fact]
    public async Task Beyond_the_history_only_finished_imports_are_forgotten()
    {
        var imports = new TestImports(history: 2, maxQueued: 100);
        var running = await imports.UploadAsync(Csv.Dcgm(3));
        await imports.Steps.StartAsync(running.Id);
        var pending = await imports.UploadAsync(Csv.Dcgm(3));
        var finished = await imports.UploadAsync(Csv.Dcgm(3));
        await imports.Steps.FinishAsync(finished.Id, ImportStatus.Completed, null);

        // Three newer uploads push all three past a history of 2; only the finished one goes.
        for (var i = 0; i < 3; i++) await imports.UploadAsync(Csv.Dcgm(3));
        Assert.Equal(ImportStatus.Running, (await imports.Store.GetAsync(running.Id))!.Status);
        Assert.Equal(ImportStatus.Pending, (await imports.Store.GetAsync(pending.Id))!.Status);
        Assert.Null(await imports.Store.GetAsync(finished.Id));
        var (listed, total) = await imports.Store.ListAsync(100);
        Assert.Contains(listed, r => r.Id == running.Id);
        Assert.Contains(listed, r => r.Id == pending.Id);
        Assert.Equal(5, total); // 2 kept beyond the history because they have not finished, plus the 3 newest

        // Once they finish, the next upload forgets them.
        await imports.Steps.FinishAsync(running.Id, ImportStatus.Cancelled, "test");
        await imports.Steps.FinishAsync(pending.Id, ImportStatus.Cancelled, "test");
        await imports.UploadAsync(Csv.Dcgm(3));
        Assert.Null(await imports.Store.GetAsync(running.Id));
        Assert.Null(await imports.Store.GetAsync(pending.Id));
    }

    [Fact]
    public async Task An_upload_beyond_the_waiting_bound_is_refused_before_anything_is_stored()
    {
        var imports = new TestImports(maxQueued: 2);
        await imports.UploadAsync(Csv.Dcgm(3));
        await imports.UploadAsync(Csv.Dcgm(3));
        var keys = imports.KeyValues.Count;
        var busy = await Assert.ThrowsAsync<ImportBusyException>(() => imports.UploadAsync(Csv.Dcgm(3)));
        Assert.Contains("IMPORT_MAX_QUEUED", busy.Message);
        Assert.True(busy.RetryAfter > TimeSpan.Zero);
        Assert.Equal(keys, imports.KeyValues.Count);
        Assert.Equal(2, imports.Scheduled.Count);
    }
}
