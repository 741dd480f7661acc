using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Telemetry.Core.Queries;
using Telemetry.Core.Windows;
using Telemetry.Hosting.Observability;

namespace Telemetry.Gateway;

/// <summary>The REST API, one group of endpoints under <c>/api/v1</c>.</summary>
public static class TelemetryApi
{
    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Telemetry")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status500InternalServerError);
        api.MapGet("/gpus", ListGpus).WithName("ListGpus")
            .WithSummary("GPUs with data, ordered by hostname then GPU index.");
        api.MapGet("/gpus/{id}", GetGpu).WithName("GetGpu")
            .WithSummary("One GPU by uuid.");
        api.MapGet("/gpus/{id}/telemetry", GetTelemetry).WithName("GetGpuTelemetry")
            .WithSummary("A GPU's samples ordered by time; start_time and end_time are inclusive.");
        api.MapGet("/gpus/{id}/series", GetSeries).WithName("GetGpuSeries")
            .WithSummary("A GPU's samples downsampled for charts: `points` buckets of equal duration over [start_time, end_time] " +
                "(inclusive; default: the whole window), each with min, max, avg, last and count; empty buckets left out.");
        api.MapGet("/hosts", ListHosts).WithName("ListHosts")
            .WithSummary("Hosts with the number of GPUs reporting from each.");
        api.MapGet("/hosts/{hostname}/gpus", ListHostGpus).WithName("ListHostGpus")
            .WithSummary("The GPUs of one host, ordered by GPU index.");
        api.MapGet("/status", StatusApi.GetStatus).WithName("GetStatus").WithTags("Status")
            .WithSummary("Pipeline status: every service instance's last heartbeat (samples/s, rows rejected, messages " +
                "dead-lettered, store health); embedded mode is one instance, Dapr mode every streamer, collector and gateway replica.");
        return app;
    }

    internal static async Task<Results<Ok<GpuListResponse>, ProblemHttpResult>> ListGpus(
        WindowReader reader,
        [FromQuery] string? hostname,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "offset")] string? offset,
        CancellationToken cancellationToken)
    {
        var (page, problem) = await ReadGpuPageAsync(reader, hostname, limit, offset, cancellationToken);
        return page is null ? problem! : TypedResults.Ok(page);
    }

    internal static async Task<Results<Ok<GpuResponse>, ProblemHttpResult>> GetGpu(
        WindowReader reader, string id, CancellationToken cancellationToken)
    {
        var gpu = await reader.GetGpuOverviewAsync(id, cancellationToken);
        return gpu is null ? UnknownGpu(id) : TypedResults.Ok(GpuResponse.From(gpu));
    }

    internal static async Task<Results<TelemetryResult, ProblemHttpResult>> GetTelemetry(
        WindowReader reader,
        TelemetryCursorSigner cursors,
        string id,
        [FromQuery(Name = "start_time")] string? startTime,
        [FromQuery(Name = "end_time")] string? endTime,
        [FromQuery(Name = "metric")] string[]? metric,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "cursor")] string? cursor,
        CancellationToken cancellationToken)
    {
        if (!QueryParameters.TryParseTelemetry(id, startTime, endTime, metric, limit, cursor, cursors, out var query, out var problem))
        {
            return problem!;
        }
        using var span = PipelineTracing.StartQuery(id);
        var page = await reader.QueryAsync(id, query, cancellationToken);
        span?.SetTag("telemetry.query.samples", page?.Samples.Count ?? 0);
        if (page is null) return UnknownGpu(id);
        return new TelemetryResult(id, page, query.Limit, page.Next is { } next ? cursors.Seal(id, query, next) : null);
    }

    internal static async Task<Results<SeriesJsonResult, ProblemHttpResult>> GetSeries(
        WindowReader reader,
        string id,
        [FromQuery(Name = "start_time")] string? startTime,
        [FromQuery(Name = "end_time")] string? endTime,
        [FromQuery(Name = "metric")] string[]? metric,
        [FromQuery(Name = "points")] string? points,
        CancellationToken cancellationToken)
    {
        if (!QueryParameters.TryParseSeries(startTime, endTime, metric, points, out var query, out var problem)) return problem!;
        var series = await reader.ReadSeriesAsync(id, query, cancellationToken);
        return series is null ? UnknownGpu(id) : new SeriesJsonResult(id, series);
    }

    internal static async Task<Ok<HostListResponse>> ListHosts(WindowReader reader, CancellationToken cancellationToken)
    {
        var hosts = await reader.ListHostsAsync(cancellationToken);
        return TypedResults.Ok(new HostListResponse([.. hosts.Select(host => new HostResponse(host.Hostname, host.Gpus))], hosts.Count));
    }

    internal static async Task<Results<Ok<GpuListResponse>, ProblemHttpResult>> ListHostGpus(
        WindowReader reader,
        string hostname,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "offset")] string? offset,
        CancellationToken cancellationToken)
    {
        var (page, problem) = await ReadGpuPageAsync(reader, hostname, limit, offset, cancellationToken);
        if (page is null) return problem!;
        if (page.Total == 0) return QueryParameters.NotFound($"No GPU has reported from host '{hostname}'.");
        return TypedResults.Ok(page);
    }

    /// <summary>One page of the GPU list (optionally of one host), or the 400 for bad paging parameters.</summary>
    private static async Task<(GpuListResponse? Page, ProblemHttpResult? Problem)> ReadGpuPageAsync(
        WindowReader reader, string? hostname, string? limit, string? offset, CancellationToken cancellationToken)
    {
        if (!QueryParameters.TryParseLimit(limit, QueryParameters.DefaultGpuPage, QueryParameters.MaxGpuPage, out var pageSize, out var problem)
            || !QueryParameters.TryParseOffset(offset, out var skip, out problem))
        {
            return (null, problem);
        }
        var page = await reader.ListGpuOverviewsAsync(new GpuListQuery(hostname, pageSize, skip), cancellationToken);
        return (new GpuListResponse([.. page.Gpus.Select(GpuResponse.From)], page.Total, new OffsetPagination(pageSize, skip, page.HasNext)), null);
    }

    private static ProblemHttpResult UnknownGpu(string id) =>
        QueryParameters.NotFound($"No GPU with uuid '{id}' has telemetry. GET /api/v1/gpus lists the known ones.");
}
