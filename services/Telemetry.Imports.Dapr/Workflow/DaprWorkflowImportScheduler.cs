using Dapr.Workflow;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Imports.Workflow;

/// <summary>
/// Dapr mode: each import is a workflow instance named by the import id.
/// <list type="bullet">
/// <item>Scheduling from an upload is bounded (<see cref="ScheduleTimeout"/>) and never fails the upload: the record
/// is durable by then, so the upload is answered 202 and, should the engine not take the instance now (placement
/// unreachable), the sweep schedules it later. An instance that already exists counts as scheduled, so a retried
/// schedule never imports twice.</item>
/// <item>A sweep brings records and instances into agreement, once the engine answers and then every
/// <see cref="SweepInterval"/>, each record on its own (one failure does not stop the rest): an unfinished import
/// without an instance is scheduled (its start step resumes from <c>chunks_done</c>); one whose instance ended
/// without recording a final status is marked failed; a finished import's instance is purged from the actor state
/// store, so no import leaves its workflow history behind.</item>
/// </list>
/// </summary>
public sealed partial class DaprWorkflowImportScheduler(
    IImportWorkflowEngine engine,
    ImportStore store,
    ImportSteps steps,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<DaprWorkflowImportScheduler> logger) : BackgroundService, IImportScheduler
{
    public static readonly TimeSpan ScheduleTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    public async Task ScheduleAsync(ImportRecord record, CancellationToken cancellationToken)
    {
        // Not the request's token: a client that gives up must not cancel a schedule half way.
        using var timeout = new CancellationTokenSource(ScheduleTimeout, time);
        try
        {
            await engine.StartAsync(record.Id, timeout.Token);
        }
        catch (Exception error) when (error is not OperationCanceledException || timeout.IsCancellationRequested)
        {
            LogScheduleDeferred(record.Id, error.Message);
        }
    }

    public async Task CancelAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await engine.RaiseCancelAsync(id, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // The record already carries the request; the next chunk activity reads it.
            LogRaiseFailed(id, error.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WaitForStartAsync(stoppingToken);
        await engine.WaitUntilReadyAsync(stoppingToken);
        using var timer = new PeriodicTimer(SweepInterval, time);
        do
        {
            await SweepAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass over every remembered import. Returns how many records it changed or scheduled.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<ImportRecord> records;
        try
        {
            (records, _) = await store.ListAsync(int.MaxValue, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            LogSweepFailed(error.Message);
            return 0;
        }
        var acted = 0;
        foreach (var record in records)
        {
            try
            {
                if (await ReconcileAsync(record, cancellationToken)) acted++;
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogReconcileFailed(record.Id, error.Message);
            }
        }
        return acted;
    }

    private async Task<bool> ReconcileAsync(ImportRecord record, CancellationToken cancellationToken)
    {
        if (ImportStatus.IsFinal(record.Status) && record.WorkflowPurged) return false;
        var status = await engine.GetStatusAsync(record.Id, cancellationToken);
        var ended = status is WorkflowRuntimeStatus.Completed or WorkflowRuntimeStatus.Failed
            or WorkflowRuntimeStatus.Terminated or WorkflowRuntimeStatus.Canceled;
        if (!ImportStatus.IsFinal(record.Status))
        {
            if (status is null)
            {
                LogRescheduling(record.Id, record.Status);
                await engine.StartAsync(record.Id, cancellationToken);
                return true;
            }
            if (!ended) return false;
            LogEndedUnfinished(record.Id, status.Value);
            await steps.FinishAsync(record.Id, ImportStatus.Failed,
                $"the import's workflow ended ({status}) without recording a final status", cancellationToken);
            // Purged on the next sweep, once the final status is stored.
            return true;
        }
        if (ended) await engine.PurgeAsync(record.Id, cancellationToken);
        if (status is not null && !ended) return false; // still winding down (finishing, continuing as new)
        await store.UpdateAsync(record.Id, r =>
        {
            if (r.WorkflowPurged) return false;
            r.WorkflowPurged = true;
            return true;
        }, cancellationToken);
        return true;
    }

    private async Task WaitForStartAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Import {Id} is stored but its workflow could not be scheduled now ({Reason}); the next sweep schedules it")]
    private partial void LogScheduleDeferred(string id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not raise the cancel event of import {Id}: {Reason}")]
    private partial void LogRaiseFailed(string id, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Import {Id} is {Status} without a workflow; scheduling it")]
    private partial void LogRescheduling(string id, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The workflow of import {Id} ended {Status} without a final status; marking the import failed")]
    private partial void LogEndedUnfinished(string id, WorkflowRuntimeStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not list imports to reconcile with their workflows: {Reason}")]
    private partial void LogSweepFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reconcile import {Id} with its workflow: {Reason}; retried at the next sweep")]
    private partial void LogReconcileFailed(string id, string reason);
}
