using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Telemetry.Hosting;

namespace Telemetry.Gateway;

/// <summary>The gateway's protections, from environment variables. The API key and CORS are off by default;
/// writes (imports) are off unless a key or <c>IMPORTS_ENABLED=true</c> allows them.</summary>
public sealed class GatewaySecurityOptions
{
    public const int MinCursorSecretLength = 16;

    /// <summary>When set, every <c>/api/…</c> request must carry it in the <c>X-API-Key</c> header.</summary>
    [ConfigurationKeyName("API_KEY")]
    public string? ApiKey { get; set; }

    /// <summary>Comma-separated origins allowed to call the API from a browser (e.g.
    /// <c>https://grafana.example.com</c>); <c>*</c> allows any. Empty: no CORS headers at all.</summary>
    [ConfigurationKeyName("CORS_ORIGINS")]
    public string? CorsOrigins { get; set; }

    /// <summary>Whether <c>/api/v1/imports</c> takes uploads and cancels. Unset: only when <c>API_KEY</c> is set, so
    /// that writing needs the key; <c>true</c> opens them without a key (a trusted network); <c>false</c> closes them.</summary>
    [ConfigurationKeyName("IMPORTS_ENABLED")]
    public bool? ImportsEnabled { get; set; }

    /// <summary>Key material for sealing telemetry cursors (<see cref="TelemetryCursorSigner"/>); unset: API_KEY.</summary>
    [ConfigurationKeyName("CURSOR_SECRET")]
    public string? CursorSecret { get; set; }

    public bool RequiresApiKey => !string.IsNullOrWhiteSpace(ApiKey);

    public bool AllowsImports => ImportsEnabled ?? RequiresApiKey;

    /// <summary>The secret cursors are sealed with, checked: a configured one must not be trivially short.</summary>
    public string? CursorKeyMaterial()
    {
        if (CursorSecret is { } secret)
        {
            if (secret.Trim().Length < MinCursorSecretLength)
                throw new ConfigurationException($"CURSOR_SECRET: must be at least {MinCursorSecretLength} characters (a random string shared by every gateway replica).");
            return secret;
        }
        return RequiresApiKey ? ApiKey : null;
    }

    /// <summary>The configured origins, checked: each must be <c>*</c> or an absolute http(s) origin.</summary>
    public IReadOnlyList<string> ParseOrigins()
    {
        if (string.IsNullOrWhiteSpace(CorsOrigins)) return [];
        var origins = new List<string>();
        foreach (var part in CorsOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part == "*")
            {
                origins.Add(part);
                continue;
            }
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            {
                throw new ConfigurationException(
                    $"CORS_ORIGINS: '{part}' is not an origin; expected scheme://host[:port] such as https://dashboard.example.com, or *.");
            }
            origins.Add(part.TrimEnd('/'));
        }
        return origins;
    }
}

/// <summary>
/// Request limits, security headers, CORS and the optional API key for the REST API. One call on the
/// builder wires it all: the middleware goes in through an <see cref="IStartupFilter"/>, ahead of the app's
/// own pipeline, so every answer (404s and errors included) carries the headers.
/// </summary>
public static class GatewaySecurityExtensions
{
    public const string ApiKeyHeader = "X-API-Key";
    public const string CorsPolicy = "gateway-cors";

    /// <summary>Routes under these prefixes take file uploads and get <see cref="MaxUploadBodyBytes"/>;
    /// every other request body is limited to <see cref="RequestLimits.DefaultMaxBodyBytes"/>.</summary>
    public static readonly string[] UploadPathPrefixes = ["/api/v1/imports"];

    public const long MaxUploadBodyBytes = 512L * 1024 * 1024;

    /// <summary>Strict policy for everything the API serves: JSON is never a document to render.</summary>
    public const string ApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    /// <summary>The interactive reference at /swagger is a page with scripts and styles (some inline) served
    /// from this origin; it fetches the OpenAPI document from here too.</summary>
    public const string UiContentSecurityPolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

    /// <summary>The dashboard (every path the API does not own): its own scripts and styles only, nothing inline,
    /// data from this origin.</summary>
    public const string DashboardContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

    public static WebApplicationBuilder AddGatewaySecurity(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.ReadSettings<GatewaySecurityOptions>();
        var origins = settings.ParseOrigins();
        builder.Services.AddSingleton(new TelemetryCursorSigner(settings.CursorKeyMaterial()));
        builder.Services.AddRequestLimits(MaxUploadBodyBytes);
        if (origins.Count > 0)
        {
            builder.Services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy =>
            {
                if (origins.Contains("*")) policy.AllowAnyOrigin();
                else policy.WithOrigins([.. origins]);
                policy.WithMethods("GET", "HEAD", "POST")
                    .WithHeaders(ApiKeyHeader, "Content-Type", "Accept")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));
        }
        builder.Services.AddSingleton<IStartupFilter>(new GatewaySecurityStartupFilter(settings, origins));
        return builder;
    }

    private sealed class GatewaySecurityStartupFilter(GatewaySecurityOptions settings, IReadOnlyList<string> origins) : IStartupFilter
    {
        private readonly WriteGate _writes = new(settings.AllowsImports, origins);

        private readonly byte[]? _keyHash = settings.RequiresApiKey ? SHA256.HashData(Encoding.UTF8.GetBytes(settings.ApiKey!)) : null;

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(AddSecurityHeaders);
            app.UseUrlLengthLimit();
            app.Use(LimitBody);
            if (origins.Count > 0) app.UseCors(CorsPolicy);
            if (_keyHash is not null) app.Use(RequireApiKey);
            app.Use(_writes.Check);
            next(app);
        };

        private static Task AddSecurityHeaders(HttpContext context, RequestDelegate next)
        {
            context.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                headers.ContentSecurityPolicy = IsUi(http.Request.Path) ? UiContentSecurityPolicy
                    : DashboardExtensions.IsReserved(http.Request.Path) ? ApiContentSecurityPolicy : DashboardContentSecurityPolicy;
                if (http.Request.Path.StartsWithSegments("/api")) headers.CacheControl = "no-store";
                return Task.CompletedTask;
            }, context);
            return next(context);
        }

        private static bool IsUi(PathString path) => path.StartsWithSegments("/swagger") || path.StartsWithSegments("/scalar");

        private static Task LimitBody(HttpContext context, RequestDelegate next)
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit
                && !Array.Exists(UploadPathPrefixes, prefix => context.Request.Path.StartsWithSegments(prefix)))
            {
                limit.MaxRequestBodySize = RequestLimits.DefaultMaxBodyBytes;
            }
            return next(context);
        }

        private Task RequireApiKey(HttpContext context, RequestDelegate next)
        {
            var request = context.Request;
            if (!request.Path.StartsWithSegments("/api") || HttpMethods.IsOptions(request.Method)) return next(context);
            var given = request.Headers[ApiKeyHeader];
            // Hashing first makes the comparison constant-time whatever the lengths.
            if (given.Count == 1 && given[0] is { } key
                && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(key)), _keyHash))
            {
                return next(context);
            }
            context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{ApiKeyHeader}\"";
            return Results.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized",
                detail: $"This API requires the {ApiKeyHeader} header with a valid key.")
                .ExecuteAsync(context);
        }
    }
}
