using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Hosting;

namespace Telemetry.Streamer;

/// <summary>
/// Streams <c>CSV_FILE</c>: one reader feeds a bounded channel, <c>WORKERS</c> workers take rows from it (so no
/// row goes to two workers in a pass), pace themselves at <c>RATE</c> rows per second each, stamp rows with the
/// processing time and publish batches. On shutdown reading stops at once, but rows already read are
/// still stamped and published: nothing read is lost.
/// </summary>
public sealed partial class StreamerWorker(
    IOptions<StreamerOptions> options,
    IBatchPublisher publisher,
    IWorkShare workShare,
    ProcessingClock clock,
    StreamerStatus status,
    IHostApplicationLifetime lifetime,
    ILogger<StreamerWorker> logger) : BackgroundService
{
    private const int LoggedRowErrorsPerPass = 20;
    private readonly StreamerOptions _options = options.Value;
    private readonly string _streamerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..48];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            for (var pass = 1; ; pass++)
            {
                await StreamPassAsync(pass, stoppingToken);
                status.PassCompleted();
                if (!_options.Loop || stoppingToken.IsCancellationRequested) break;
            }
        }
        catch (TelemetryCsvException error)
        {
            // The file was fine at start-up and changed since: say so once and stop.
            LogCsvFatal(error.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            status.Finish();
        }
    }

    private async Task StreamPassAsync(int pass, CancellationToken stoppingToken)
    {
        using var reader = TelemetryCsvReader.Open(_options.CsvFile, new TelemetryCsvOptions(_options.NvidiaSmiHostname));
        var rows = Channel.CreateBounded<TelemetryRow>(new BoundedChannelOptions(Math.Max(64, _options.Workers * 64))
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var workers = new Task[_options.Workers];
        for (var i = 0; i < workers.Length; i++) workers[i] = RunWorkerAsync(rows.Reader, stoppingToken);
        var (read, rejected) = await ProduceAsync(reader, rows.Writer, stoppingToken);
        await Task.WhenAll(workers);
        LogPassDone(pass, _options.CsvFile, read, rejected);
    }

    private async Task<(long Read, long Rejected)> ProduceAsync(TelemetryCsvReader reader, ChannelWriter<TelemetryRow> rows, CancellationToken stoppingToken)
    {
        long read = 0, rejected = 0;
        try
        {
            foreach (var result in reader.ReadAll())
            {
                if (stoppingToken.IsCancellationRequested) break;
                read++;
                status.RowRead();
                TelemetryMetrics.RowsRead.Inc();
                if (result.Error is { } error)
                {
                    rejected++;
                    status.RowRejected();
                    TelemetryMetrics.RowsRejected.WithLabels(error.Field ?? "row").Inc();
                    if (rejected <= LoggedRowErrorsPerPass) LogRowSkipped(error.ToString());
                    else if (rejected == LoggedRowErrorsPerPass + 1) LogMoreRowErrors(reader.SourceName);
                    continue;
                }
                var row = result.Row!;
                if (row.Metrics.Count == 0 || !workShare.Owns(row.Gpu.Uuid)) continue;
                // Not cancellable: workers drain the channel even while stopping, so this never blocks for long
                // and a row that was read is always handed on.
                await rows.WriteAsync(row, CancellationToken.None);
            }
        }
        finally
        {
            rows.Complete();
        }
        return (read, rejected);
    }

    private async Task RunWorkerAsync(ChannelReader<TelemetryRow> rows, CancellationToken stoppingToken)
    {
        var batch = new BatchBuilder(_streamerId);
        var interval = _options.Rate > 0 ? TimeSpan.FromSeconds(1 / _options.Rate) : TimeSpan.Zero;
        var batchWait = TimeSpan.FromMilliseconds(_options.BatchWaitMilliseconds);
        var due = DateTime.UtcNow;
        await foreach (var row in rows.ReadAllAsync(CancellationToken.None))
        {
            if (interval > TimeSpan.Zero && !stoppingToken.IsCancellationRequested)
            {
                var wait = due - DateTime.UtcNow;
                if (batch.RowCount > 0 && DateTime.UtcNow + wait - batch.StartedAt >= batchWait) await FlushAsync(batch);
                if (wait > TimeSpan.Zero) await Delay(wait, stoppingToken);
                due = (due > DateTime.UtcNow.AddSeconds(-1) ? due : DateTime.UtcNow) + interval;
            }
            batch.Add(row, clock.Next());
            if (batch.SampleCount >= _options.BatchSize || DateTime.UtcNow - batch.StartedAt >= batchWait) await FlushAsync(batch);
        }
        if (batch.RowCount > 0) await FlushAsync(batch);
    }

    private async Task FlushAsync(BatchBuilder builder)
    {
        var rowCount = builder.RowCount;
        var batch = builder.Take();
        var samples = batch.SampleCount;
        // Publishing is retried until it is accepted: the publisher's own retries cover short faults, this
        // loop covers longer outages. It is not cancelled on shutdown; the host's shutdown timeout bounds it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await publisher.PublishAsync(batch, CancellationToken.None);
                break;
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                TelemetryMetrics.PublishRetries.Inc();
                LogPublishFailed(batch.BatchId, attempt, error.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(attempt, 6)))));
            }
        }
        status.Published(rowCount, samples);
        TelemetryMetrics.BatchesPublished.Inc();
        TelemetryMetrics.SamplesPublished.Inc(samples);
    }

    private static async Task Delay(TimeSpan wait, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(wait, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the remaining rows go out without pacing.
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Reason}")]
    private partial void LogCsvFatal(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped row {Error}")]
    private partial void LogRowSkipped(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "More malformed rows in {File}; counting them without logging each (see telemetry_rows_rejected_total)")]
    private partial void LogMoreRowErrors(string file);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pass {Pass} over {File} done: {Rows} rows read, {Rejected} rejected")]
    private partial void LogPassDone(int pass, string file, long rows, long rejected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing batch {BatchId} failed (attempt {Attempt}): {Reason}; retrying")]
    private partial void LogPublishFailed(string batchId, int attempt, string reason);
}
