using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Imports;

/// <summary>
/// The embedded host's import runner: a queue of import ids and one loop that runs each import's steps in
/// turn. At start it queues every import the store still lists as pending or running, so an import that a
/// restart interrupted resumes from its recorded progress (the first chunk not recorded as done).
/// On shutdown the chunk in progress is abandoned, not recorded; it runs again after the restart.
/// </summary>
public sealed partial class InProcessImportRunner(
    ImportStore store,
    ImportSteps steps,
    ILogger<InProcessImportRunner> logger) : BackgroundService, IImportScheduler
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public Task ScheduleAsync(ImportRecord record, CancellationToken cancellationToken) =>
        _queue.Writer.WriteAsync(record.Id, cancellationToken).AsTask();

    /// <summary>Nothing to do: the loop reads the cancel request from the record before every chunk.</summary>
    public Task CancelAsync(string id, CancellationToken cancellationToken) => Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            foreach (var record in await store.ListUnfinishedAsync(stoppingToken))
            {
                LogResuming(record.Id, record.ChunksDone, record.Chunks);
                await _queue.Writer.WriteAsync(record.Id, stoppingToken);
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            LogResumeFailed(error.Message);
        }

        await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await RunAsync(id, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return; // left running: resumed at the next start
            }
            catch (Exception error)
            {
                LogFailed(id, error.Message);
                try
                {
                    await steps.FinishAsync(id, ImportStatus.Failed, error.Message, stoppingToken);
                }
                catch (Exception second) when (second is not OperationCanceledException)
                {
                    LogFailed(id, second.Message);
                }
            }
        }
    }

    private async Task RunAsync(string id, CancellationToken stoppingToken)
    {
        ImportRecord record;
        try
        {
            record = await steps.StartAsync(id, stoppingToken);
        }
        catch (ImportNotFoundException)
        {
            return;
        }
        if (ImportStatus.IsFinal(record.Status)) return;
        var stopped = record.CancelRequested;
        for (var chunk = record.ChunksDone; chunk < record.Chunks && !stopped; chunk++)
        {
            var outcome = await steps.ProcessChunkAsync(id, chunk, stoppingToken);
            stopped = outcome.Stop;
        }
        await steps.FinishAsync(id, stopped ? ImportStatus.Cancelled : ImportStatus.Completed, stopped ? "cancelled on request" : null, stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming import {Id} at chunk {Done} of {Chunks}")]
    private partial void LogResuming(string id, int done, int chunks);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not look for interrupted imports: {Reason}")]
    private partial void LogResumeFailed(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Import {Id} failed: {Reason}")]
    private partial void LogFailed(string id, string reason);
}
