using Microsoft.Net.Http.Headers;

namespace Telemetry.Gateway;

/// <summary>
/// Who may change data through the API (today: start and cancel imports, under <c>/api/v1/imports</c>).
/// <list type="number">
/// <item>Imports are closed unless <c>API_KEY</c> is set (the API-key check ahead of this then demands the key)
/// or <c>IMPORTS_ENABLED=true</c> says the network is trusted: 403.</item>
/// <item>A browser write from another site is refused (403) whatever the key: a form post needs no CORS
/// pre-flight, so any page a user on the network opens could otherwise submit one. A browser names the site
/// that made a request in <c>Sec-Fetch-Site</c> (all current browsers) and sends <c>Origin</c> on every POST and
/// DELETE; a request carrying neither is not from a browser page and is left to the key. Origins listed in
/// <c>CORS_ORIGINS</c> (not <c>*</c>) are trusted like the API's own.</item>
/// </list>
/// The gateway's own pages (the dashboard, served on the same port) are same-origin and pass.
/// </summary>
internal sealed class WriteGate(bool importsAllowed, IReadOnlyList<string> corsOrigins)
{
    public static readonly PathString ImportsPath = "/api/v1/imports";
    private readonly HashSet<string> _trusted = new(corsOrigins.Where(origin => origin != "*"), StringComparer.OrdinalIgnoreCase);

    public Task Check(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!IsWrite(request.Method) || !request.Path.StartsWithSegments("/api")) return next(context);
        if (request.Path.StartsWithSegments(ImportsPath) && !importsAllowed)
        {
            return Refuse(context, "Imports are disabled: they change fleet data, so they need API_KEY (then the X-API-Key header) " +
                                   "or IMPORTS_ENABLED=true on a trusted network.");
        }
        if (IsCrossSite(request))
        {
            return Refuse(context, "Writes are refused from pages of another site (Origin / Sec-Fetch-Site). Use the API from " +
                                   "its own origin, from a client that is not a browser, or list the site in CORS_ORIGINS.");
        }
        return next(context);
    }

    private static bool IsWrite(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    private bool IsCrossSite(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && _trusted.Contains(origin.TrimEnd('/'))) return false;
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        // "none": the user's own action (address bar, bookmark); "same-origin": a page of this API.
        if (site.Length > 0) return site is not ("same-origin" or "none");
        if (origin.Length == 0) return false;
        // Compared by host and port only: behind a TLS-terminating proxy the request arrives as http while
        // the page's origin is https. "null" (sandboxed frames, data: URLs) never matches.
        return !Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
               || !string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static Task Refuse(HttpContext context, string detail) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail).ExecuteAsync(context);
}
