using Dapr.Workflow;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Imports.Workflow;

namespace Telemetry.Imports.Tests;

/// <summary>A workflow engine whose answers the test sets, and which records what it was asked.</summary>
internal sealed class FakeEngine : IImportWorkflowEngine
{
    public Dictionary<string, WorkflowRuntimeStatus> Instances { get; } = [];
    public List<string> Started { get; } = [];
    public List<string> Purged { get; } = [];
    public HashSet<string> Broken { get; } = [];
    public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Queries { get; private set; }

    /// <summary>When set, starting an instance waits for this (as daprd does with placement unreachable).</summary>
    public Task? StartBlocksUntil { get; set; }

    public async Task StartAsync(string id, CancellationToken cancellationToken)
    {
        if (StartBlocksUntil is { } block) await block.WaitAsync(cancellationToken);
        Started.Add(id);
        Instances.TryAdd(id, WorkflowRuntimeStatus.Running);
    }

    public Task<WorkflowRuntimeStatus?> GetStatusAsync(string id, CancellationToken cancellationToken)
    {
        Queries++;
        if (Broken.Contains(id)) throw new IOException($"actor state for {id} unreadable");
        return Task.FromResult(Instances.TryGetValue(id, out var status) ? status : (WorkflowRuntimeStatus?)null);
    }

    public Task RaiseCancelAsync(string id, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task PurgeAsync(string id, CancellationToken cancellationToken)
    {
        Purged.Add(id);
        Instances.Remove(id);
        return Task.CompletedTask;
    }

    public Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        Waiting.TrySetResult();
        return Ready.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>Issue 15, items 12–14: the Dapr-mode scheduler's start-up wait, its sweep, bounded scheduling, purging.</summary>
public class ImportSchedulerTests
{
    private sealed class Lifetime : IHostApplicationLifetime
    {
        private readonly CancellationTokenSource _started = new();
        public CancellationToken ApplicationStarted => _started.Token;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void Start() => _started.Cancel();
        public void StopApplication() { }
    }

    private static (TestImports Imports, FakeEngine Engine, DaprWorkflowImportScheduler Scheduler, Lifetime Lifetime, FakeTimeProvider Time) Create()
    {
        var imports = new TestImports(maxQueued: 100);
        var engine = new FakeEngine();
        var lifetime = new Lifetime();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var scheduler = new DaprWorkflowImportScheduler(engine, imports.Store, imports.Steps, lifetime, time,
            NullLogger<DaprWorkflowImportScheduler>.Instance);
        return (imports, engine, scheduler, lifetime, time);
    }

    [Fact]
    public async Task The_sweep_waits_for_the_engine_then_schedules_what_was_stored_but_never_started()
    {
        var (imports, engine, scheduler, lifetime, _) = Create();
        var stored = await imports.UploadAsync(Csv.Dcgm(3)); // TestImports schedules nothing itself
        await scheduler.StartAsync(CancellationToken.None);
        lifetime.Start();
        await engine.Waiting.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the sidecar is not up yet: nothing was asked of it
        Assert.Equal(0, engine.Queries);
        Assert.Empty(engine.Started);

        engine.Ready.TrySetResult();
        for (var i = 0; i < 200 && engine.Started.Count == 0; i++) await Task.Delay(10);
        Assert.Equal([stored.Id], engine.Started);
        await scheduler.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_sweep_runs_again_every_interval()
    {
        var (imports, engine, scheduler, lifetime, time) = Create();
        var early = await imports.UploadAsync(Csv.Dcgm(3));
        engine.Ready.TrySetResult();
        await scheduler.StartAsync(CancellationToken.None);
        lifetime.Start();
        for (var i = 0; i < 500 && engine.Started.Count == 0; i++) await Task.Delay(10); // the first sweep
        Assert.Equal([early.Id], engine.Started);

        var late = await imports.UploadAsync(Csv.Dcgm(3)); // stored after the first sweep, its schedule lost
        time.Advance(DaprWorkflowImportScheduler.SweepInterval);
        for (var i = 0; i < 500 && engine.Started.Count < 2; i++) await Task.Delay(10);
        Assert.Equal([early.Id, late.Id], engine.Started);
        await scheduler.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task One_record_that_fails_does_not_stop_the_sweep()
    {
        var (imports, engine, scheduler, _, _) = Create();
        var broken = await imports.UploadAsync(Csv.Dcgm(3));
        var fine = await imports.UploadAsync(Csv.Dcgm(3));
        engine.Broken.Add(broken.Id);
        Assert.Equal(1, await scheduler.SweepAsync(CancellationToken.None));
        Assert.Equal([fine.Id], engine.Started);
    }

    [Fact]
    public async Task A_running_import_whose_workflow_ended_without_finishing_is_marked_failed_then_purged()
    {
        var (imports, engine, scheduler, _, _) = Create();
        var record = await imports.UploadAsync(Csv.Dcgm(30));
        await imports.Steps.StartAsync(record.Id);
        engine.Instances[record.Id] = WorkflowRuntimeStatus.Failed; // chunk and finish both failed: the breaker was open

        await scheduler.SweepAsync(CancellationToken.None);
        var failed = (await imports.Store.GetAsync(record.Id))!;
        Assert.Equal(ImportStatus.Failed, failed.Status);
        Assert.Contains("ended (Failed)", failed.Error);
        Assert.False(await imports.HasKeyAsync(ImportStore.ChunkKey(record.Id, 0))); // the stored file is removed

        await scheduler.SweepAsync(CancellationToken.None);
        Assert.Equal([record.Id], engine.Purged);
        Assert.True((await imports.Store.GetAsync(record.Id))!.WorkflowPurged);
    }

    [Fact]
    public async Task Finished_imports_have_their_workflow_purged_once()
    {
        var (imports, engine, scheduler, _, _) = Create();
        var done = await imports.UploadAsync(Csv.Dcgm(3));
        await imports.Steps.FinishAsync(done.Id, ImportStatus.Completed, null);
        engine.Instances[done.Id] = WorkflowRuntimeStatus.Completed;
        var never = await imports.UploadAsync(Csv.Dcgm(3));
        await imports.Steps.RequestCancelAsync(never.Id); // cancelled while pending: it never had an instance

        await scheduler.SweepAsync(CancellationToken.None);
        Assert.Equal([done.Id], engine.Purged);
        Assert.True((await imports.Store.GetAsync(done.Id))!.WorkflowPurged);
        Assert.True((await imports.Store.GetAsync(never.Id))!.WorkflowPurged);

        var queries = engine.Queries;
        await scheduler.SweepAsync(CancellationToken.None);
        Assert.Equal(queries, engine.Queries); // purged records cost nothing any more
        Assert.Single(engine.Purged);
    }

    [Fact]
    public async Task A_running_workflow_is_left_alone()
    {
        var (imports, engine, scheduler, _, _) = Create();
        var record = await imports.UploadAsync(Csv.Dcgm(3));
        await imports.Steps.StartAsync(record.Id);
        engine.Instances[record.Id] = WorkflowRuntimeStatus.Running;
        Assert.Equal(0, await scheduler.SweepAsync(CancellationToken.None));
        Assert.Empty(engine.Started);
        Assert.Equal(ImportStatus.Running, (await imports.Store.GetAsync(record.Id))!.Status);
    }

    [Fact]
    public async Task Scheduling_from_an_upload_is_bounded_and_never_fails_the_upload()
    {
        var (imports, engine, scheduler, _, time) = Create();
        var record = await imports.UploadAsync(Csv.Dcgm(3));
        engine.StartBlocksUntil = new TaskCompletionSource().Task; // placement unreachable: the create never returns

        var scheduling = scheduler.ScheduleAsync(record, CancellationToken.None);
        Assert.False(scheduling.IsCompleted);
        time.Advance(DaprWorkflowImportScheduler.ScheduleTimeout);
        await scheduling.WaitAsync(TimeSpan.FromSeconds(10)); // returns, does not throw
        Assert.Empty(engine.Started);
        Assert.Equal(ImportStatus.Pending, (await imports.Store.GetAsync(record.Id))!.Status);

        // Once the engine answers, the sweep schedules it, exactly once.
        engine.StartBlocksUntil = null;
        await scheduler.SweepAsync(CancellationToken.None);
        await scheduler.SweepAsync(CancellationToken.None);
        Assert.Equal([record.Id], engine.Started);
    }
}
