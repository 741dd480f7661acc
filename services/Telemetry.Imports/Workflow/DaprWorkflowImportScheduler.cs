using Dapr.Workflow;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Imports.Workflow;

/// <summary>
/// Dapr mode: each import is a workflow instance named by the import id. At start this also schedules any
/// import that is still pending without a workflow (the process died between storing the upload and
/// scheduling it); running ones need nothing, the Dapr runtime resumes their workflows itself.
/// </summary>
public sealed partial class DaprWorkflowImportScheduler(
    DaprWorkflowClient client,
    ImportStore store,
    IHostApplicationLifetime lifetime,
    ILogger<DaprWorkflowImportScheduler> logger) : BackgroundService, IImportScheduler
{
    public async Task ScheduleAsync(ImportRecord record, CancellationToken cancellationToken)
    {
        await client.ScheduleNewWorkflowAsync(ImportWorkflow.Name, record.Id, new ImportRequest(record.Id), null, cancellationToken);
    }

    public async Task CancelAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await client.RaiseEventAsync(id, ImportWorkflow.CancelEvent, "cancel", cancellationToken);
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
        try
        {
            foreach (var record in await store.ListUnfinishedAsync(stoppingToken))
            {
                if (record.Status != ImportStatus.Pending) continue;
                var state = await client.GetWorkflowStateAsync(record.Id, false, stoppingToken);
                if (state is { Exists: true }) continue;
                LogRescheduling(record.Id);
                await ScheduleAsync(record, stoppingToken);
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            LogSweepFailed(error.Message);
        }
    }

    private async Task WaitForStartAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
        // The workflow engine needs the sidecar; give it a moment after the host starts.
        await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not raise the cancel event of import {Id}: {Reason}")]
    private partial void LogRaiseFailed(string id, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Import {Id} was stored but never scheduled; scheduling it now")]
    private partial void LogRescheduling(string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look for unscheduled imports: {Reason}")]
    private partial void LogSweepFailed(string reason);
}
