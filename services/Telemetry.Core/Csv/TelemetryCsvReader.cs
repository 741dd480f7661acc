using CsvHelper;
using Telemetry.Core.Model;

namespace Telemetry.Core.Csv;

/// <summary>Reads a DCGM or nvidia-smi CSV into <see cref="TelemetryRow"/>s. The format is told from the
/// header when the reader is opened, so a file that is not telemetry fails fast with one clear message,
/// while a bad line later in the file is reported as a <see cref="RowError"/> and reading goes on.</summary>
/// <remarks>Forward only: <see cref="ReadAll"/> can be enumerated once.</remarks>
public sealed class TelemetryCsvReader : IDisposable
{
    // A telemetry line is well under a kilobyte; a longer "record" is garbage or an unclosed quote, and
    // must not make the parser buffer the rest of a large file.
    private const int MaxRecordBytes = 1 << 20;

    private static readonly CsvReaderOptions ParserOptions = new()
    {
        Separator = ',',            // fixed: detection could pick ';' or '|' on odd input
        HasHeader = true,
        TrackLineNumbers = true,    // errors must name the physical line, also after multi-line quoted fields
        MaxRecordSize = MaxRecordBytes,
        MalformedData = CsvMalformedDataHandling.Recover,
        FieldCountMismatch = CsvFieldCountHandling.Allow, // checked per line so it becomes a RowError
    };

    private const string ExpectedHeaders =
        "expected a DCGM header (timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw) " +
        "or an nvidia-smi --query-gpu header containing 'timestamp' and 'uuid'";

    private readonly CsvReader _csv;
    private readonly RowParser _parser;
    private bool _started;

    private TelemetryCsvReader(CsvReader csv, string sourceName, CsvFormat format, RowParser parser)
    {
        _csv = csv;
        SourceName = sourceName;
        Format = format;
        _parser = parser;
    }

    public CsvFormat Format { get; }

    /// <summary>The path or upload name used in errors and exception messages.</summary>
    public string SourceName { get; }

    /// <summary>Opens a file and reads its header.</summary>
    /// <exception cref="CsvSourceException">The file cannot be opened or read.</exception>
    /// <exception cref="UnrecognisedCsvException">The header is neither DCGM nor nvidia-smi.</exception>
    public static TelemetryCsvReader Open(string path, TelemetryCsvOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        FileStream stream;
        try
        {
            // bufferSize 0: CsvHelper keeps its own buffer, a second one would only copy bytes twice.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CsvSourceException($"CSV file '{path}' cannot be read: {Describe(e, path)}", e);
        }
        return Create(stream, ownsStream: true, path, options);
    }

    /// <summary>Reads an uploaded stream, from its current position. The stream stays open when the reader
    /// is disposed: it belongs to the caller.</summary>
    /// <exception cref="CsvSourceException">The stream cannot be read.</exception>
    /// <exception cref="UnrecognisedCsvException">The header is neither DCGM nor nvidia-smi.</exception>
    public static TelemetryCsvReader Open(Stream stream, string sourceName, TelemetryCsvOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(options);
        if (!stream.CanRead) throw new CsvSourceException($"CSV file '{sourceName}' cannot be read: the stream is not readable");
        return Create(stream, ownsStream: false, sourceName, options);
    }

    private static TelemetryCsvReader Create(Stream stream, bool ownsStream, string source, TelemetryCsvOptions options)
    {
        var csv = CsvReader.Create(stream, ParserOptions, leaveOpen: !ownsStream);
        try
        {
            IReadOnlyList<string> header;
            try
            {
                header = csv.Headers;
            }
            catch (CsvFormatException e)
            {
                throw new UnrecognisedCsvException($"CSV file '{source}' has no readable header ({e.Message}); {ExpectedHeaders}");
            }
            catch (IOException e)
            {
                throw new CsvSourceException($"CSV file '{source}' cannot be read: {e.Message}", e);
            }
            var (format, parser) = Detect(source, header, options);
            return new TelemetryCsvReader(csv, source, format, parser);
        }
        catch
        {
            csv.Dispose();
            throw;
        }
    }

    private static (CsvFormat, RowParser) Detect(string source, IReadOnlyList<string> header, TelemetryCsvOptions options)
    {
        if (header.Count == 0 || (header.Count == 1 && string.IsNullOrWhiteSpace(header[0])))
            throw new UnrecognisedCsvException($"CSV file '{source}' is empty; {ExpectedHeaders}");

        var trimmed = new string[header.Count];
        for (var i = 0; i < header.Count; i++) trimmed[i] = header[i].Trim();

        // DCGM names are matched exactly (case matters); the first of a duplicated name wins.
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < trimmed.Length; i++) columns.TryAdd(trimmed[i], i);
        if (columns.ContainsKey("metric_name"))
        {
            var missing = Array.FindAll(DcgmRowParser.RequiredColumns, c => !columns.ContainsKey(c));
            if (missing.Length > 0)
                throw new UnrecognisedCsvException(
                    $"CSV file '{source}' looks like DCGM but lacks column(s) {string.Join(", ", missing)}; {ExpectedHeaders}");
            return (CsvFormat.Dcgm, new DcgmRowParser(source, columns, header.Count));
        }

        var hasTimestamp = false;
        var hasUuid = false;
        foreach (var name in trimmed)
        {
            var field = NvidiaSmiRowParser.SplitUnit(name).Field;
            // nvidia-smi writes its field names in lower case; exact matching keeps look-alikes out.
            hasTimestamp |= field == "timestamp";
            hasUuid |= field is "uuid" or "gpu_uuid";
        }
        if (hasTimestamp && hasUuid)
            return (CsvFormat.NvidiaSmi, new NvidiaSmiRowParser(source, trimmed, options.NvidiaSmiHostname));

        throw new UnrecognisedCsvException($"CSV file '{source}' has an unrecognised header {Preview(header)}; {ExpectedHeaders}");
    }

    /// <summary>Every data line in file order: a row, or the error that made the line unusable. Lazy; a
    /// failure of the source itself (I/O error) throws <see cref="CsvSourceException"/>.</summary>
    public IEnumerable<CsvReadResult> ReadAll()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started) throw new InvalidOperationException($"'{SourceName}' is already being read; open it again to re-read it");
        _started = true;
        return Iterate();
    }

    private IEnumerable<CsvReadResult> Iterate()
    {
        while (true)
        {
            if (!Advance(out var fatal))
            {
                // An oversized record leaves the parser without a trustworthy position: report it and stop.
                if (fatal is not null) yield return new CsvReadResult(null, fatal);
                yield break;
            }
            var result = _parser.Parse(_csv, _csv.LineNumber);
            if (result.Row is not null || result.Error is not null) yield return result;
        }
    }

    private bool Advance(out RowError? fatal)
    {
        fatal = null;
        try
        {
            return _csv.Read();
        }
        catch (CsvFormatException e)
        {
            fatal = new RowError(SourceName, e.LineNumber > 0 ? e.LineNumber : _csv.LineNumber + 1,
                $"unreadable from here on: {e.Message}");
            return false;
        }
        catch (IOException e)
        {
            throw new CsvSourceException($"CSV file '{SourceName}' cannot be read: {e.Message}", e);
        }
    }

    private bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _csv.Dispose();
    }

    private static string Describe(Exception e, string path) => e switch
    {
        FileNotFoundException => "file not found",
        DirectoryNotFoundException => "directory not found",
        UnauthorizedAccessException when Directory.Exists(path) => "it is a directory",
        UnauthorizedAccessException => "permission denied",
        ArgumentException or NotSupportedException => "invalid path",
        _ => e.Message,
    };

    /// <summary>The start of the header for the message: enough to recognise the file, never a whole line
    /// of binary.</summary>
    private static string Preview(IReadOnlyList<string> header)
    {
        var text = string.Join(",", header);
        var clean = new System.Text.StringBuilder(Math.Min(text.Length, 80));
        foreach (var c in text)
        {
            if (clean.Length == 80) { clean.Append("..."); break; }
            clean.Append(char.IsControl(c) ? '?' : c);
        }
        return $"'{clean}'";
    }
}
