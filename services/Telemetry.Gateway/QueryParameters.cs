using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Telemetry.Core.Queries;

namespace Telemetry.Gateway;

/// <summary>Turns query strings into queries, or into a 400 that says exactly what was wrong.
/// Parsing is done here rather than by model binding so every message names the parameter and what it expects.</summary>
internal static class QueryParameters
{
    public const int MaxGpuPage = 1000, DefaultGpuPage = 100;
    public const int MaxTelemetryPage = 10_000, DefaultTelemetryPage = 1000;

    public static bool TryParseLimit(string? text, int fallback, int max, out int limit, out ProblemHttpResult? problem)
    {
        problem = null;
        limit = fallback;
        if (text is null) return true;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > max)
        {
            problem = BadRequest($"limit must be a whole number from 1 to {max}; got '{Shorten(text)}'.");
            return false;
        }
        return true;
    }

    public static bool TryParseOffset(string? text, out int offset, out ProblemHttpResult? problem)
    {
        problem = null;
        offset = 0;
        if (text is null) return true;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
        {
            problem = BadRequest($"offset must be a whole number of 0 or more; got '{Shorten(text)}'.");
            return false;
        }
        return true;
    }

    /// <summary>RFC 3339 date-time (<see cref="Rfc3339"/>); without an offset the time is taken as UTC.</summary>
    public static bool TryParseTime(string name, string? text, out DateTime? time, out ProblemHttpResult? problem)
    {
        problem = null;
        time = null;
        if (text is null) return true;
        switch (Rfc3339.TryParse(text, out var parsed))
        {
            case Rfc3339.Outcome.Parsed:
                time = parsed;
                return true;
            case Rfc3339.Outcome.InvalidDate:
                problem = BadRequest($"{name} '{Shorten(text)}' is not a real date and time (month 01-12, a day the month has, hour 00-23, minute 00-59, offset hour 00-23).");
                return false;
            case Rfc3339.Outcome.OutOfRange:
                problem = BadRequest($"{name} '{Shorten(text)}' is out of range: in UTC it must fall from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z, and a leap second (:60) cannot be represented.");
                return false;
            default:
                problem = BadRequest($"{name} must be an RFC 3339 date-time such as 2025-07-18T20:42:34Z or 2025-07-18T22:42:34.5+02:00; got '{Shorten(text)}'.");
                return false;
        }
    }

    public static bool TryParseTelemetry(string gpuId, string? start, string? end, string[]? metrics, string? limitText, string? cursorText,
        TelemetryCursorSigner cursors, out TelemetryQuery query, out ProblemHttpResult? problem)
    {
        query = new TelemetryQuery();
        if (!TryParseTime("start_time", start, out var from, out problem)) return false;
        if (!TryParseTime("end_time", end, out var to, out problem)) return false;
        if (from > to)
        {
            problem = BadRequest($"start_time ({from:O}) is after end_time ({to:O}).");
            return false;
        }
        if (!TryParseLimit(limitText, DefaultTelemetryPage, MaxTelemetryPage, out var limit, out problem)) return false;
        if (!TryParseMetrics(metrics, out var metricSet, out problem)) return false;
        query = new TelemetryQuery(from, to, metricSet, limit);
        if (cursorText is not null)
        {
            if (!cursors.TryOpen(cursorText, gpuId, query, out var cursor))
            {
                problem = BadRequest("cursor is not one this API issued for this GPU and these start_time, end_time and metric " +
                                     "values; pass next_cursor from the previous page unchanged, with the same query.");
                return false;
            }
            query = query with { After = cursor };
        }
        return true;
    }

    public const int MaxSeriesPoints = 10_000, DefaultSeriesPoints = 500;

    public static bool TryParseSeries(string? start, string? end, string[]? metrics, string? pointsText,
        out SeriesQuery query, out ProblemHttpResult? problem)
    {
        query = new SeriesQuery();
        if (!TryParseTime("start_time", start, out var from, out problem)) return false;
        if (!TryParseTime("end_time", end, out var to, out problem)) return false;
        if (from > to)
        {
            problem = BadRequest($"start_time ({from:O}) is after end_time ({to:O}).");
            return false;
        }
        var points = DefaultSeriesPoints;
        if (pointsText is not null
            && (!int.TryParse(pointsText, NumberStyles.None, CultureInfo.InvariantCulture, out points) || points < 1 || points > MaxSeriesPoints))
        {
            problem = BadRequest($"points must be a whole number from 1 to {MaxSeriesPoints}; got '{Shorten(pointsText)}'.");
            return false;
        }
        if (!TryParseMetrics(metrics, out var metricSet, out problem)) return false;
        query = new SeriesQuery(from, to, metricSet, points);
        return true;
    }

    private static bool TryParseMetrics(string[]? metrics, out HashSet<string>? metricSet, out ProblemHttpResult? problem)
    {
        problem = null;
        metricSet = null;
        if (metrics is not { Length: > 0 }) return true;
        metricSet = new HashSet<string>(StringComparer.Ordinal);
        foreach (var metric in metrics)
        {
            if (string.IsNullOrWhiteSpace(metric))
            {
                problem = BadRequest("metric must not be empty.");
                return false;
            }
            metricSet.Add(metric);
        }
        return true;
    }

    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
