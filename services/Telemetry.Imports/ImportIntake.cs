using Microsoft.Extensions.Options;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;

namespace Telemetry.Imports;

/// <summary>Runs stored imports: the in-process runner (embedded) or Dapr Workflow (gateway in Dapr mode).</summary>
public interface IImportScheduler
{
    /// <summary>Starts the import whose record and file are stored. Must return quickly.</summary>
    Task ScheduleAsync(ImportRecord record, CancellationToken cancellationToken);

    /// <summary>Tells a running import to stop (the record already says so; this only makes it notice sooner).</summary>
    Task CancelAsync(string id, CancellationToken cancellationToken);
}

/// <summary>The header is not one this pipeline reads.</summary>
public sealed class ImportRejectedException(IReadOnlyList<ImportProblem> problems)
    : Exception(problems.Count > 0 ? problems[0].Reason : "the file is not telemetry")
{
    public IReadOnlyList<ImportProblem> Problems { get; } = problems;
}

/// <summary>No room for another upload now: too many arriving at once, or too many imports waiting to run.</summary>
public sealed class ImportBusyException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>Options of one upload, from the query string or the multipart form.</summary>
public sealed record ImportRequestOptions(ImportMode Mode, string? Hostname);

/// <summary>
/// Takes an upload in: checks the header before storing anything, stores the file in chunks, records the
/// import as pending and hands it to the scheduler. Nothing is answered 202 before the file is stored, so an
/// accepted import survives a crash of the process that accepted it. Uploads arriving at once
/// (<c>IMPORT_MAX_UPLOADS</c>) and imports stored but not finished (<c>IMPORT_MAX_QUEUED</c>) are bounded, so
/// uploads cannot take the store's space without limit.
/// </summary>
public sealed class ImportIntake(ImportStore store, IImportScheduler scheduler, IOptions<ImportOptions> options) : IDisposable
{
    private static readonly TimeSpan UploadsBusyRetry = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan QueueFullRetry = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim _uploads = new(options.Value.MaxUploads, options.Value.MaxUploads);

    /// <summary>Throws <see cref="ImportBusyException"/> when there is no room; nothing is read or stored then.</summary>
    public async Task<ImportRecord> AcceptAsync(Stream body, string fileName, Func<ImportRequestOptions> readOptions, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!_uploads.Wait(0))
            throw new ImportBusyException($"{settings.MaxUploads} uploads are already arriving (IMPORT_MAX_UPLOADS); try again shortly.", UploadsBusyRetry);
        try
        {
            var waiting = await store.CountUnfinishedAsync(cancellationToken).ConfigureAwait(false);
            if (waiting >= settings.MaxQueued)
            {
                throw new ImportBusyException(
                    $"{waiting} imports are waiting or running (IMPORT_MAX_QUEUED is {settings.MaxQueued}); try again when one has finished.", QueueFullRetry);
            }
            return await StoreAsync(body, fileName, readOptions, settings, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _uploads.Release();
        }
    }

    public void Dispose() => _uploads.Dispose();

    private async Task<ImportRecord> StoreAsync(Stream body, string fileName, Func<ImportRequestOptions> readOptions, ImportOptions settings,
        CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        var chunker = new CsvChunker(settings.ChunkBytes, settings.MaxBytes);
        byte[]? header = null;
        long headerLines = 0;
        var format = CsvFormat.Dcgm;
        var firstLines = new List<long>();
        long size;
        try
        {
            size = await chunker.SplitAsync(body,
                (bytes, lines) =>
                {
                    format = Check(bytes, fileName);
                    header = bytes;
                    headerLines = lines;
                    return Task.CompletedTask;
                },
                async (index, data, firstLine) =>
                {
                    firstLines.Add(firstLine);
                    await store.SaveChunkAsync(id, index, data, cancellationToken).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException error)
        {
            await store.DeleteFileAsync(id, firstLines.Count, CancellationToken.None).ConfigureAwait(false);
            throw new ImportRejectedException([new ImportProblem(1, error.Message)]);
        }
        catch
        {
            await store.DeleteFileAsync(id, firstLines.Count, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        var requestOptions = readOptions();
        await store.SaveManifestAsync(id, new ImportManifest { Header = header!, HeaderLines = headerLines, ChunkFirstLines = firstLines },
            cancellationToken).ConfigureAwait(false);
        var record = new ImportRecord
        {
            Id = id,
            Status = ImportStatus.Pending,
            Mode = requestOptions.Mode,
            Hostname = requestOptions.Hostname,
            FileName = fileName,
            Format = format == CsvFormat.Dcgm ? "dcgm" : "nvidia-smi",
            SizeBytes = size,
            Chunks = firstLines.Count,
            CreatedAt = store.Time.GetUtcNow().UtcDateTime,
        };
        await store.CreateAsync(record, cancellationToken).ConfigureAwait(false);
        await scheduler.ScheduleAsync(record, cancellationToken).ConfigureAwait(false);
        return record;
    }

    /// <summary>Tells the format from the header alone, as the streamer does, or rejects the file.</summary>
    private static CsvFormat Check(byte[] header, string fileName)
    {
        try
        {
            using var stream = new MemoryStream(header, writable: false);
            using var reader = TelemetryCsvReader.Open(stream, fileName, TelemetryCsvOptions.Default);
            return reader.Format;
        }
        catch (TelemetryCsvException error)
        {
            throw new ImportRejectedException([new ImportProblem(1, error.Message)]);
        }
    }
}
