using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Telemetry.Hosting;

/// <summary>
/// Size limits every HTTP-facing service shares. Kestrel enforces the header and request-line limits itself
/// (answering 431 / 414 before any application code runs); <see cref="UseUrlLengthLimit"/> answers a long
/// path or query string with a 414 problem+json first, so a client sees the same error shape as everywhere else.
/// </summary>
public static class RequestLimits
{
    /// <summary>Path plus query string, in characters, that <see cref="UseUrlLengthLimit"/> accepts.</summary>
    public const int MaxUrlLength = 4096;

    /// <summary>Kestrel's limit on the request line (method, target, version); above <see cref="MaxUrlLength"/>
    /// so the friendlier in-app answer wins for anything that still fits.</summary>
    public const int MaxRequestLineBytes = 16 * 1024;

    public const int MaxRequestHeadersTotalBytes = 32 * 1024;
    public const int MaxRequestHeaderCount = 64;

    /// <summary>Body limit for routes that take no uploads (the REST API only reads query strings).</summary>
    public const long DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>Sets Kestrel's limits. <paramref name="maxBodyBytes"/> is the server-wide body ceiling; a
    /// host may lower it per request (see <c>IHttpMaxRequestBodySizeFeature</c>).</summary>
    public static IServiceCollection AddRequestLimits(this IServiceCollection services, long maxBodyBytes = DefaultMaxBodyBytes)
    {
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = maxBodyBytes;
            kestrel.Limits.MaxRequestLineSize = MaxRequestLineBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalBytes;
            kestrel.Limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = MaxRequestHeadersTotalBytes;
        });
        return services;
    }

    /// <summary>414 problem+json for a path plus query longer than <paramref name="maxLength"/> characters.</summary>
    public static IApplicationBuilder UseUrlLengthLimit(this IApplicationBuilder app, int maxLength = MaxUrlLength) =>
        app.Use((context, next) =>
        {
            var request = context.Request;
            var length = (request.PathBase.Value?.Length ?? 0) + (request.Path.Value?.Length ?? 0) + (request.QueryString.Value?.Length ?? 0);
            if (length <= maxLength) return next(context);
            return Results.Problem(
                statusCode: StatusCodes.Status414UriTooLong,
                title: "URI too long",
                detail: $"The path and query string are {length} characters; at most {maxLength} are accepted.")
                .ExecuteAsync(context);
        });
}
