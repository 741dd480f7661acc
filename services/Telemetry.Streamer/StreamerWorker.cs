using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Polly;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;

namespace Telemetry.Streamer;

/// <summary>
/// Streams <c>CSV_FILE</c>. The <see cref="IRowShare"/> says which rows this replica streams; one reader feeds
/// them into a bounded channel and <c>WORKERS</c> workers take rows from it (so no row goes to two workers),
/// pace themselves at <c>RATE</c> rows per second each, stamp rows with the processing time and publish
/// batches. On shutdown reading stops at once, but rows already read are still stamped and published, and
/// the share learns where this replica stopped so another can carry on from there.
/// </summary>
public sealed partial class StreamerWorker(
    IOptions<StreamerOptions> options,
    IBatchPublisher publisher,
    IRowShare rowShare,
    FailureClassifier classifier,
    Backoff backoff,
    IQuarantine quarantine,
    ProcessingClock clock,
    StreamerStatus status,
    IHostApplicationLifetime lifetime,
    ILogger<StreamerWorker> logger) : BackgroundService
{
    private const int LoggedRowErrorsPerPass = 20;
    /// <summary>Rows the reader hands to a worker at once at full speed (RATE=0).</summary>
    internal const int RowsPerHandOff = 64;
    private readonly StreamerOptions _options = options.Value;
    private readonly ResiliencePipeline _publishRetry = Retries.Delivery(classifier, Retries.PermanentAttempts, backoff,
        onRetry: retry => LogPublishRetry(logger, retry));
    private readonly string _streamerId = $"{Environment.MachineName}-{Guid.NewGuid():N}";
    private TelemetryCsvReader? _reader;
    private IEnumerator<CsvReadResult>? _rows;
    private long _position, _pass, _passRead, _passRejected, _batchSequence;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            RowClaim? claim;
            try
            {
                claim = await rowShare.ClaimAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                claim = null;
            }
            while (claim is not null)
            {
                var (nextRow, endOfFile) = await StreamClaimAsync(claim, stoppingToken);
                if (endOfFile)
                {
                    LogPassDone(claim.Pass, _options.CsvFile, _passRead, _passRejected);
                    status.PassCompleted();
                    CloseFile();
                }
                if (stoppingToken.IsCancellationRequested)
                {
                    // Hand back what was not streamed, so another replica resumes there.
                    await rowShare.CompleteAsync(claim, nextRow, endOfFile, CancellationToken.None);
                    break;
                }
                try
                {
                    claim = await rowShare.CompleteAndClaimAsync(claim, nextRow, endOfFile, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break; // the completion was written; only the wait for more rows was cancelled
                }
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
            CloseFile();
            status.Finish();
        }
    }

    /// <summary>Streams the claimed rows; returns the first row not streamed and whether the file ended.</summary>
    private async Task<(long NextRow, bool EndOfFile)> StreamClaimAsync(RowClaim claim, CancellationToken stoppingToken)
    {
        if (_rows is null || claim.Pass != _pass || _position > claim.FirstRow)
        {
            CloseFile();
            _reader = TelemetryCsvReader.Open(_options.CsvFile, new TelemetryCsvOptions(_options.NvidiaSmiHostname));
            _rows = _reader.ReadAll().GetEnumerator();
            _position = 0;
            _pass = claim.Pass;
            _passRead = _passRejected = 0;
        }
        // Rows go to the workers in runs: at full speed a hand-off per row cost more than the row itself (a worker
        // that drained the channel is woken through the thread pool for every row). Paced workers get single rows,
        // so rows still spread over all workers and each paces at RATE even when a file has only a few rows.
        var runLength = _options.Rate > 0 ? 1 : RowsPerHandOff;
        var capacity = runLength == 1 ? Math.Max(16, _options.Workers * 8) : _options.Workers * 2;
        var rows = Channel.CreateBounded<TelemetryRow[]>(new BoundedChannelOptions(capacity)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var workers = new Task[_options.Workers];
        for (var i = 0; i < workers.Length; i++) workers[i] = RunWorkerAsync(rows.Reader, stoppingToken);
        var endOfFile = false;
        var run = new List<TelemetryRow>(runLength);
        try
        {
            while (_position < claim.EndRow && !stoppingToken.IsCancellationRequested)
            {
                if (!_rows.MoveNext())
                {
                    endOfFile = true;
                    break;
                }
                var index = _position++;
                if (index < claim.FirstRow) continue; // another replica streamed these rows
                var result = _rows.Current;
                if (Accept(result) is { } row)
                {
                    run.Add(row);
                    if (run.Count == runLength) await HandOnAsync(rows.Writer, run);
                }
            }
        }
        finally
        {
            // A row that was read is always handed on, even when reading failed or the host is stopping.
            if (run.Count > 0) await HandOnAsync(rows.Writer, run);
            rows.Writer.Complete();
            await Task.WhenAll(workers);
        }
        return (_position, endOfFile);
    }

    /// <summary>Not cancellable: workers drain the channel even while stopping, so this never blocks for long.</summary>
    private static async Task HandOnAsync(ChannelWriter<TelemetryRow[]> writer, List<TelemetryRow> run)
    {
        await writer.WriteAsync([.. run], CancellationToken.None);
        run.Clear();
    }

    private TelemetryRow? Accept(CsvReadResult result)
    {
        _passRead++;
        status.RowRead();
        TelemetryMetrics.RowsRead.Inc();
        if (result.Error is { } error)
        {
            _passRejected++;
            status.RowRejected();
            TelemetryMetrics.RowsRejected.WithLabels(error.Field ?? "row").Inc();
            if (_passRejected <= LoggedRowErrorsPerPass) LogRowSkipped(error.ToString());
            else if (_passRejected == LoggedRowErrorsPerPass + 1) LogMoreRowErrors(_options.CsvFile);
            return null;
        }
        if (result.Row is { Metrics.Count: > 0 } row) return row;
        // A line with no value at all (an nvidia-smi line of [N/A]s) is well formed but carries nothing: count it
        // as skipped, so every row read is either published or counted (RowsRead = RowsRejected + RowsPublished).
        _passRejected++;
        status.RowRejected();
        TelemetryMetrics.RowsRejected.WithLabels("no_values").Inc();
        return null;
    }

    private void CloseFile()
    {
        _rows?.Dispose();
        _rows = null;
        _reader?.Dispose();
        _reader = null;
    }

    private async Task RunWorkerAsync(ChannelReader<TelemetryRow[]> runs, CancellationToken stoppingToken)
    {
        var batch = new BatchBuilder(() => $"{_streamerId}-{Interlocked.Increment(ref _batchSequence)}");
        var interval = _options.Rate > 0 ? TimeSpan.FromSeconds(1 / _options.Rate) : TimeSpan.Zero;
        var batchWait = TimeSpan.FromMilliseconds(_options.BatchWaitMilliseconds);
        // Pacing starts with the first row, not when the worker starts: time spent waiting for the file to be
        // opened and read is not credit to send a burst of rows.
        DateTime? due = null;
        await foreach (var run in runs.ReadAllAsync(CancellationToken.None))
        {
            foreach (var row in run)
            {
                if (interval > TimeSpan.Zero && !stoppingToken.IsCancellationRequested)
                {
                    due ??= DateTime.UtcNow;
                    var wait = due.Value - DateTime.UtcNow;
                    if (batch.RowCount > 0 && DateTime.UtcNow + wait - batch.StartedAt >= batchWait) await FlushAsync(batch);
                    if (wait > TimeSpan.Zero) await Delay(wait, stoppingToken);
                    due = (due.Value > DateTime.UtcNow.AddSeconds(-1) ? due.Value : DateTime.UtcNow) + interval;
                }
                batch.Add(row, clock.Next());
                if (batch.SampleCount >= _options.BatchSize || DateTime.UtcNow - batch.StartedAt >= batchWait) await FlushAsync(batch);
            }
        }
        if (batch.RowCount > 0) await FlushAsync(batch);
    }

    private async Task FlushAsync(BatchBuilder builder)
    {
        var rowCount = builder.RowCount;
        var batch = builder.Take();
        var samples = batch.SampleCount;
        // The batch's trace: the publish call (and any retry of it) runs inside this span, so the transport carries it on.
        using var span = PipelineTracing.StartPublish(batch, rowCount, _options.CsvFile);
        // A sidecar or broker that is down is waited for as long as it takes, so an outage loses nothing; a batch
        // that fails for any other reason is tried a few times and then quarantined, so one bad batch cannot hold
        // up this worker and, through back-pressure, the pipeline. Not cancelled on shutdown: the host's shutdown
        // timeout bounds it.
        try
        {
            await _publishRetry.RunAsync(batch.BatchId, token => publisher.PublishAsync(batch, token), CancellationToken.None);
        }
        catch (Exception error)
        {
            span?.AddException(error);
            TelemetryMetrics.BatchesQuarantined.WithLabels("publish").Inc();
            await quarantine.QuarantineAsync(batch, "publish", error);
            status.Quarantined(rowCount, samples);
            return;
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
    private partial void LogPassDone(long pass, string file, long rows, long rejected);

    private static void LogPublishRetry(ILogger logger, RetryAttempt retry)
    {
        TelemetryMetrics.PublishRetries.WithLabels(retry.Kind == FailureKind.Transient ? "transient" : "permanent").Inc();
        LogPublishFailed(logger, retry.Subject, retry.Attempt, retry.Kind, retry.Error.Message, retry.Delay.TotalMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing batch {BatchId} failed (attempt {Attempt}, {Kind}): {Reason}; retrying in {WaitMs:F0} ms")]
    private static partial void LogPublishFailed(ILogger logger, string? batchId, int attempt, FailureKind kind, string reason, double waitMs);
}
