namespace Telemetry.Streamer;

/// <summary>What the streamer has done so far; read by health, logs and tests.</summary>
public sealed class StreamerStatus
{
    private long _rowsRead, _rowsRejected, _rowsPublished, _samplesPublished, _batchesPublished, _passes, _rowsQuarantined, _samplesQuarantined;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long RowsRead => Interlocked.Read(ref _rowsRead);
    public long RowsRejected => Interlocked.Read(ref _rowsRejected);
    public long RowsPublished => Interlocked.Read(ref _rowsPublished);
    public long SamplesPublished => Interlocked.Read(ref _samplesPublished);
    public long BatchesPublished => Interlocked.Read(ref _batchesPublished);
    public long PassesCompleted => Interlocked.Read(ref _passes);

    /// <summary>Rows and samples of batches that could not be published and were quarantined instead.</summary>
    public long RowsQuarantined => Interlocked.Read(ref _rowsQuarantined);
    public long SamplesQuarantined => Interlocked.Read(ref _samplesQuarantined);

    /// <summary>Completes when the streamer has stopped (after its single pass when LOOP=false).</summary>
    public Task Finished => _finished.Task;

    internal void RowRead() => Interlocked.Increment(ref _rowsRead);
    internal void RowRejected() => Interlocked.Increment(ref _rowsRejected);
    internal void PassCompleted() => Interlocked.Increment(ref _passes);
    internal void Published(int rows, int samples)
    {
        Interlocked.Add(ref _rowsPublished, rows);
        Interlocked.Add(ref _samplesPublished, samples);
        Interlocked.Increment(ref _batchesPublished);
    }
    internal void Quarantined(int rows, int samples)
    {
        Interlocked.Add(ref _rowsQuarantined, rows);
        Interlocked.Add(ref _samplesQuarantined, samples);
    }
    internal void Finish() => _finished.TrySetResult();
}
