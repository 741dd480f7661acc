using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.FileProviders;

namespace Telemetry.Gateway;

/// <summary>
/// The web dashboard: static files embedded in this assembly (Dashboard/), served under <c>/assets</c>, and the
/// app shell (index.html) for every page path, so a deep link pasted into a new tab loads the app, which then
/// routes in the browser. Paths the API and tooling own (<see cref="ReservedPrefixes"/>) are never answered with
/// the shell: an unknown one stays the 404 problem it was.
/// </summary>
public static class DashboardExtensions
{
    /// <summary>Pages the dashboard has; the shell answers them with 200.</summary>
    public static readonly string[] PageRoutes = ["/", "/gpus/{uuid}", "/hosts/{hostname}", "/imports"];

    public static readonly string[] ReservedPrefixes = ["/api", "/openapi", "/swagger", "/scalar", "/health", "/metrics", "/assets", "/dapr"];

    public static bool IsReserved(PathString path) => Array.Exists(ReservedPrefixes, prefix => path.StartsWithSegments(prefix));

    public static WebApplication MapDashboard(this WebApplication app)
    {
        var files = new ManifestEmbeddedFileProvider(typeof(DashboardExtensions).Assembly, "Dashboard");
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = "/assets",
            // Revalidated on every load (the ETag makes that a 304): a new build's files are used at once.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });

        var shell = ReadShell(files);
        foreach (var route in PageRoutes)
        {
            app.MapMethods(route, [HttpMethods.Get, HttpMethods.Head], () => Shell(shell, StatusCodes.Status200OK)).ExcludeFromDescription();
        }
        // Any other path a browser navigates to: the shell with a 404, so the app shows its own "not found" page.
        // Other clients (no text/html in Accept) and the API's own paths keep the 404 problem+json. GET and HEAD
        // only, so a wrong method on an API route still gets its 405.
        app.MapFallback((HttpContext context) => IsReserved(context.Request.Path) || !AcceptsHtml(context.Request)
                ? Results.StatusCode(StatusCodes.Status404NotFound)
                : Shell(shell, StatusCodes.Status404NotFound))
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]))
            .ExcludeFromDescription();
        return app;
    }

    private static bool AcceptsHtml(HttpRequest request) =>
        request.Headers.Accept.Any(value => value is not null && value.Contains("text/html", StringComparison.OrdinalIgnoreCase));

    private static ShellResult Shell(byte[] shell, int status) => new(shell, status);

    private static byte[] ReadShell(IFileProvider files)
    {
        var file = files.GetFileInfo("index.html");
        if (!file.Exists) throw new InvalidOperationException("The dashboard's index.html is not embedded in the gateway assembly.");
        using var stream = file.CreateReadStream();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>index.html, revalidated on every load so a new build's shell is used at once.</summary>
    private sealed class ShellResult(byte[] body, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = "no-cache";
            response.ContentLength = body.Length;
            return HttpMethods.IsHead(httpContext.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body).AsTask();
        }
    }
}
