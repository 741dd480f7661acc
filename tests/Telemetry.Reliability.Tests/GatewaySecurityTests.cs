using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Storage;
using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>The optional API key, security headers and CORS, on the embedded host and on the Dapr-mode gateway.</summary>
public sealed class GatewaySecurityTests
{
    private const string Key = "s3cret-key-for-tests";

    [Fact]
    public async Task Responses_carry_security_headers_and_api_responses_are_not_cached()
    {
        await using var factory = new EmbeddedFactory();
        using var client = factory.CreateClient();
        foreach (var path in new[] { "/api/v1/gpus", "/api/v1/nope", "/health", "/openapi/v1.json", "/swagger/" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
            Assert.Equal("DENY", Header(response, "X-Frame-Options"));
            Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
            var csp = Header(response, "Content-Security-Policy");
            Assert.Contains("frame-ancestors 'none'", csp);
            if (path.StartsWith("/swagger", StringComparison.Ordinal))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains("script-src 'self'", csp); // the UI's own scripts still run
            }
            else
            {
                Assert.StartsWith("default-src 'none'", csp);
            }
            if (path.StartsWith("/api/", StringComparison.Ordinal)) Assert.Equal("no-store", Header(response, "Cache-Control"));
        }
    }

    [Fact]
    public async Task Api_key_is_off_by_default()
    {
        await using var factory = new EmbeddedFactory();
        using var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/gpus")).StatusCode);
    }

    [Fact]
    public async Task With_an_api_key_the_api_needs_the_header_and_health_stays_open()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string> { ["API_KEY"] = Key });
        using var client = factory.CreateClient();

        using var missing = await client.GetAsync("/api/v1/gpus");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Contains("X-API-Key", missing.Headers.WwwAuthenticate.ToString());
        Assert.DoesNotContain(Key, await missing.Content.ReadAsStringAsync());

        foreach (var wrong in new[] { "wrong", Key + "x", Key[..^1], "", Key.ToUpperInvariant() })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/hosts");
            request.Headers.TryAddWithoutValidation("X-API-Key", wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        }
        using (var twice = new HttpRequestMessage(HttpMethod.Get, "/api/v1/hosts"))
        {
            twice.Headers.TryAddWithoutValidation("X-API-Key", [Key, "other"]);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(twice)).StatusCode);
        }
        using (var right = new HttpRequestMessage(HttpMethod.Get, "/api/v1/hosts"))
        {
            right.Headers.Add("X-API-Key", Key);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(right)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Cors_is_closed_by_default()
    {
        await using var factory = new EmbeddedFactory();
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/gpus");
        request.Headers.Add("Origin", "https://evil.example.com");
        using var response = await client.SendAsync(request);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));

        using var preflight = Preflight("https://evil.example.com");
        using var answer = await client.SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_allows_exactly_the_configured_origins_and_preflight_needs_no_key()
    {
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["CORS_ORIGINS"] = "https://dash.example.com, http://localhost:3000",
            ["API_KEY"] = Key,
        });
        using var client = factory.CreateClient();

        using var preflight = Preflight("https://dash.example.com");
        using var answer = await client.SendAsync(preflight);
        Assert.True(answer.IsSuccessStatusCode, $"preflight answered {(int)answer.StatusCode}");
        Assert.Equal("https://dash.example.com", Header(answer, "Access-Control-Allow-Origin"));
        Assert.Contains("X-API-Key", Header(answer, "Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);

        using var allowed = new HttpRequestMessage(HttpMethod.Get, "/api/v1/gpus");
        allowed.Headers.Add("Origin", "http://localhost:3000");
        allowed.Headers.Add("X-API-Key", Key);
        using var ok = await client.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("http://localhost:3000", Header(ok, "Access-Control-Allow-Origin"));

        using var other = new HttpRequestMessage(HttpMethod.Get, "/api/v1/gpus");
        other.Headers.Add("Origin", "https://evil.example.com");
        other.Headers.Add("X-API-Key", Key);
        using var refused = await client.SendAsync(other);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("dash.example.com")]
    [InlineData("https://dash.example.com/path")]
    [InlineData("ftp://dash.example.com")]
    [InlineData("https://a.example.com,not an origin")]
    public void A_malformed_cors_origin_stops_start_up_with_one_line(string origins)
    {
        var error = Assert.Throws<ConfigurationException>(() => new GatewaySecurityOptions { CorsOrigins = origins }.ParseOrigins());
        Assert.StartsWith("CORS_ORIGINS:", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Dapr_mode_gateway_is_wired_the_same_way()
    {
        await using var factory = new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("API_KEY", Key);
            builder.UseSetting("LOG_LEVEL", "Critical");
            builder.ConfigureTestServices(services => services.AddSingleton<IKeyValueStore>(new MemoryKeyValueStore()));
        });
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("http://localhost:8081") });
        using var refused = await client.GetAsync("/api/v1/gpus");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("nosniff", Header(refused, "X-Content-Type-Options"));
        using var health = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/gpus");
        request.Headers.Add("X-API-Key", Key);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/v1/gpus");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "x-api-key");
        return request;
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : "";
}
