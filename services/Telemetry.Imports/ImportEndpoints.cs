using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Telemetry.Imports;

/// <summary>The import endpoints under <c>/api/v1/imports</c>.</summary>
public static class ImportEndpoints
{
    private const int DefaultListLimit = 50;

    /// <summary>Form fields are options (mode, hostname): short. Each is read up to this many bytes, never whole.</summary>
    public const int MaxFieldBytes = 1024;
    public const int MaxFields = 16;

    /// <summary>What a multipart body may carry besides the file: boundaries, part headers, the bounded fields.</summary>
    private const long MultipartOverhead = MaxFields * (MaxFieldBytes + 1024) + 64 * 1024;

    public static IEndpointRouteBuilder MapTelemetryImports(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/imports").WithTags("Imports");
        api.MapPost("", CreateImport).WithName("CreateImport")
            .WithSummary("Upload a DCGM or nvidia-smi CSV (multipart file or text/csv body) to import as a durable job.")
            .WithDescription("Options: mode=replay (default: rows keep their own timestamps) or mode=stream (stamped with processing time); hostname for nvidia-smi logs. " +
                "Content-Length is required (411 without). 413 above IMPORT_MAX_BYTES, 415 for another content type, 400 when the header is not telemetry, " +
                "429 (with Retry-After) when IMPORT_MAX_UPLOADS uploads are arriving or IMPORT_MAX_QUEUED imports are waiting, " +
                "403 when imports are disabled or the request comes from a page of another site.")
            // One Accepts with every type: routing answers 415 for anything else (as does the handler).
            .Accepts<IFormFile>("multipart/form-data", "text/csv", "application/csv")
            .Produces<ImportResponse>(StatusCodes.Status202Accepted)
            .Produces<ImportProblemResponse>(StatusCodes.Status400BadRequest, "application/problem+json")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status411LengthRequired)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .DisableAntiforgery();
        api.MapGet("", ListImports).WithName("ListImports").WithSummary("Recent imports, newest first.")
            .Produces<ImportListResponse>();
        api.MapGet("/{id}", GetImport).WithName("GetImport").WithSummary("One import's status and counts.")
            .Produces<ImportResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", CancelImport).WithName("CancelImport")
            .WithSummary("Cancel a pending or running import: 202 (a running one stops before its next chunk), 404, or 409 when it has already finished.")
            .Produces<ImportResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    internal static async Task<IResult> CreateImport(HttpContext http, ImportIntake intake, IOptions<ImportOptions> options, CancellationToken cancellationToken)
    {
        var request = http.Request;
        var limit = options.Value.MaxBytes;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType))
            return UnsupportedType(request.ContentType);
        var mediaType = contentType.MediaType.Value?.ToLowerInvariant();
        var multipart = mediaType == "multipart/form-data";
        if (!multipart && mediaType is not ("text/csv" or "application/csv"))
            return UnsupportedType(request.ContentType);

        // The size is known before anything is stored: a refused upload never leaves chunks behind.
        if (request.ContentLength is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status411LengthRequired, title: "Length required",
                detail: "Send the upload with a Content-Length header (curl and browsers do); its size is checked against IMPORT_MAX_BYTES before anything is stored.");
        }
        var allowed = multipart ? limit + MultipartOverhead : limit;
        if (request.ContentLength > allowed) return TooLarge(limit);
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false }) sizeFeature.MaxRequestBodySize = allowed;

        if (!TryReadOptions(request.Query, out var queryOptions, out var optionProblem)) return optionProblem!;
        try
        {
            ImportRecord record;
            if (!multipart)
            {
                record = await intake.AcceptAsync(request.Body, "upload.csv", () => queryOptions!, cancellationToken);
            }
            else
            {
                var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
                if (string.IsNullOrEmpty(boundary)) return BadRequest("multipart/form-data without a boundary");
                var reader = new MultipartReader(boundary, request.Body);
                var fields = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
                ImportRecord? accepted = null;
                while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                    if (disposition.IsFileDisposition())
                    {
                        if (accepted is not null) continue; // one file per import; others are drained
                        var name = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "upload.csv";
                        accepted = await intake.AcceptAsync(section.Body, Path.GetFileName(name), () =>
                        {
                            // Fields sent before the file override the query string (each was checked as it came).
                            var merged = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
                            foreach (var (key, value) in request.Query) merged[key] = value;
                            foreach (var (key, value) in fields) merged[key] = value;
                            return TryReadOptions(merged, out var formOptions, out _) ? formOptions! : queryOptions!;
                        }, cancellationToken);
                    }
                    else if (disposition.IsFormDisposition() && accepted is null)
                    {
                        var key = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                        if (fields.Count >= MaxFields && !fields.ContainsKey(key))
                            return BadRequest($"the form has more than {MaxFields} fields; only mode and hostname are read");
                        if (await ReadFieldAsync(section.Body, cancellationToken) is not { } value)
                            return BadRequest($"form field '{Shorten(key)}' is longer than {MaxFieldBytes} bytes; fields carry options (mode, hostname), the CSV goes in the file part");
                        fields[key] = value.Trim();
                        if (!TryReadOptions(fields, out _, out var problem)) return problem!;
                    }
                }
                if (accepted is null) return BadRequest("the multipart body has no file part (send the CSV as a file field, e.g. curl -F file=@data.csv)");
                record = accepted;
            }
            var response = ImportResponse.From(record);
            return TypedResults.Accepted($"/api/v1/imports/{record.Id}", response);
        }
        catch (ImportTooLargeException)
        {
            return TooLarge(limit);
        }
        catch (ImportBusyException busy)
        {
            http.Response.Headers.RetryAfter = ((int)busy.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many imports", detail: busy.Message);
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(limit);
        }
        catch (BadHttpRequestException error)
        {
            // Kestrel's verdict on the body: 408 when it arrives too slowly (MinRequestBodyDataRate), 400 when
            // it is malformed or shorter than its Content-Length. The client's error, not the server's.
            return TypedResults.Problem(statusCode: error.StatusCode, title: "Unreadable upload",
                detail: error.StatusCode == StatusCodes.Status408RequestTimeout
                    ? "The upload arrived too slowly and was abandoned; nothing was stored."
                    : $"The upload could not be read ({error.Message}); nothing was stored.");
        }
        catch (IOException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away mid-upload; no one reads this answer, and the partial file was removed.
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Upload cut off",
                detail: "The connection closed before the upload ended; nothing was stored.");
        }
        catch (ImportRejectedException rejected)
        {
            return TypedResults.Json(
                new ImportProblemResponse("Not a telemetry CSV", StatusCodes.Status400BadRequest,
                    $"line {rejected.Problems[0].Line}: {rejected.Problems[0].Reason}", rejected.Problems),
                ImportJsonContext.Default.ImportProblemResponse, "application/problem+json", StatusCodes.Status400BadRequest);
        }
    }

    internal static async Task<IResult> ListImports(ImportStore store, string? limit, CancellationToken cancellationToken)
    {
        var pageSize = DefaultListLimit;
        if (limit is not null && (!int.TryParse(limit, out pageSize) || pageSize is < 1 or > 1000))
            return BadRequest("limit must be an integer from 1 to 1000");
        var (imports, total) = await store.ListAsync(pageSize, cancellationToken);
        return TypedResults.Ok(new ImportListResponse([.. imports.Select(ImportResponse.From)], total));
    }

    internal static async Task<IResult> GetImport(ImportStore store, string id, CancellationToken cancellationToken)
    {
        var record = await store.GetAsync(id, cancellationToken);
        return record is null ? NotFound(id) : TypedResults.Ok(ImportResponse.From(record));
    }

    internal static async Task<IResult> CancelImport(ImportSteps steps, IImportScheduler scheduler, string id, CancellationToken cancellationToken)
    {
        var (record, accepted) = await steps.RequestCancelAsync(id, cancellationToken);
        if (record is null) return NotFound(id);
        if (!accepted)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Import already finished",
                detail: $"Import '{id}' is {record.Status}; only a pending or running import can be cancelled.");
        }
        if (!ImportStatus.IsFinal(record.Status)) await scheduler.CancelAsync(id, cancellationToken);
        return TypedResults.Accepted($"/api/v1/imports/{id}", ImportResponse.From(record));
    }

    private static bool TryReadOptions(IEnumerable<KeyValuePair<string, StringValues>> values, out ImportRequestOptions? result, out IResult? problem)
    {
        result = null;
        problem = null;
        var mode = ImportMode.Replay;
        string? hostname = null;
        foreach (var (key, value) in values)
        {
            if (key.Equals("mode", StringComparison.OrdinalIgnoreCase))
            {
                switch (value.ToString().Trim().ToLowerInvariant())
                {
                    case "" or "replay": mode = ImportMode.Replay; break;
                    case "stream": mode = ImportMode.Stream; break;
                    default:
                        problem = BadRequest($"mode must be 'replay' or 'stream', not '{value}'");
                        return false;
                }
            }
            else if (key.Equals("hostname", StringComparison.OrdinalIgnoreCase))
            {
                hostname = value.ToString().Trim();
                if (hostname.Length > 256 || hostname.Contains('|') || hostname.Any(char.IsControl))
                {
                    problem = BadRequest("hostname must be at most 256 characters, without '|' or control characters");
                    return false;
                }
                if (hostname.Length == 0) hostname = null;
            }
        }
        result = new ImportRequestOptions(mode, hostname);
        return true;
    }

    /// <summary>A form field's text, or null when it is longer than <see cref="MaxFieldBytes"/> (the rest is left
    /// unread: the answer is a 400 and the body is dropped with the connection's request).</summary>
    private static async Task<string?> ReadFieldAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0) length += read;
        return length > MaxFieldBytes ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, length);
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    private static IResult BadRequest(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    private static IResult NotFound(string id) =>
        TypedResults.Problem(detail: $"No import with id '{id}'. GET /api/v1/imports lists the recent ones.",
            statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static IResult TooLarge(long limit) =>
        TypedResults.Problem(detail: $"The file is larger than {limit} bytes (IMPORT_MAX_BYTES).",
            statusCode: StatusCodes.Status413PayloadTooLarge, title: "File too large");

    private static IResult UnsupportedType(string? contentType) =>
        TypedResults.Problem(detail: $"Send the CSV as multipart/form-data (a file field) or as a text/csv body, not '{contentType ?? "no content type"}'.",
            statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
}
