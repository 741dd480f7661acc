using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// Seeded, time-bounded fuzzing of the REST API's paths and query strings against the embedded host holding
/// the tiny fixture. Whatever is asked: never a 5xx, never a stack trace or exception name in a body, bodies
/// of bounded size, and every error answered as application/problem+json.
/// </summary>
public sealed class ApiFuzzTests(ITestOutputHelper output)
{
    private const int MaxBodyBytes = 2 * 1024 * 1024;

    private static readonly string[] Hostile =
    [
        "", " ", "0", "-1", "1", "1000", "1001", "10000", "10001", "2147483647", "2147483648", "-2147483649",
        "99999999999999999999999", "1e3", "0x10", "1.5", " 7", "7 ", "+5", "NaN", "null", "true", "[]", "{}",
        "%00", "a%00b", "%", "%zz", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "../../etc/passwd", "..", ".", "%2F", "//",
        "\\..\\..\\windows", "<script>alert(1)</script>", "' OR '1'='1", "\"; DROP TABLE kv; --", "${jndi:ldap://x}",
        "ü", "😀😀😀", "\u202egnp.exe", "\u0000", "\uFFFF", "\t\r\n", "a|b|c", "gpu|x|m", "gpus|00",
        "2025-07-18T20:42:34Z", "2025-07-18T20:42:34+99:00", "2025-02-30T00:00:00Z", "9999-12-31T23:59:59.9999999Z",
        "0001-01-01T00:00:00Z", "-0001-01-01", "2025-07-18", "1752871354", "2025-07-18T20:42:34.12345678901234567890Z",
        "eyJ0IjoxLCJtIjoiYSJ9", "AAAA", "////", "=", "&", "?", "#", "cursor", "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
    ];

    private static readonly string[] Parameters = ["limit", "offset", "start_time", "end_time", "cursor", "metric", "hostname", "id", "x"];

    [Fact]
    [Trait("Category", "Fuzz")]
    public async Task Api_answers_hostile_paths_and_query_strings_without_5xx_or_leaks()
    {
        await using var factory = new EmbeddedFactory();
        var status = factory.Services.GetRequiredService<StreamerStatus>();
        using var client = factory.CreateClient();
        await status.Finished.WaitAsync(TimeSpan.FromSeconds(30));
        var uuids = await KnownUuidsAsync(client);
        Assert.NotEmpty(uuids);
        var cursor = await RealCursorAsync(client, uuids[0]);

        var seed = FuzzSettings.Seed;
        var random = new Random(seed);
        var budget = FuzzSettings.Duration(5);
        var statuses = new SortedDictionary<int, int>();
        var watch = Stopwatch.StartNew();
        var requests = 0;
        var refusedBeforeApp = 0;
        var unsendable = 0;
        long largestBody = 0;
        while (watch.Elapsed < budget)
        {
            var (method, target) = NextRequest(random, uuids, cursor);
            HttpResponseMessage sent;
            try
            {
                using var request = new HttpRequestMessage(method, new Uri(client.BaseAddress!, target));
                sent = await client.SendAsync(request);
            }
            catch (UriFormatException)
            {
                unsendable++;
                continue;
            }
            catch (InvalidOperationException e) when (e.Message.Contains("null characters", StringComparison.Ordinal))
            {
                // The in-memory server refuses a %00 in the path before the app sees it; Kestrel answers such a
                // request line with 400 itself (checked against a real server in RequestLimitTests).
                refusedBeforeApp++;
                continue;
            }
            using var response = sent;
            var body = await response.Content.ReadAsByteArrayAsync();
            var code = (int)response.StatusCode;
            requests++;
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            largestBody = Math.Max(largestBody, body.Length);
            var context = $"seed {seed}, request {requests}: {method} {Shorten(target)} → {code}";
            Assert.True(code < 500, $"{context}: {Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 500)))}");
            Assert.True(body.Length <= MaxBodyBytes, $"{context}: body of {body.Length} bytes");
            var text = Encoding.UTF8.GetString(body);
            Assert.False(text.Contains("   at ", StringComparison.Ordinal) || text.Contains("Exception", StringComparison.Ordinal)
                         || text.Contains("StackTrace", StringComparison.OrdinalIgnoreCase), $"{context}: internals in body: {Shorten(text)}");
            if (code >= 400 && method != HttpMethod.Head)
            {
                Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
                    $"{context}: content type {response.Content.Headers.ContentType}");
                using var problem = JsonDocument.Parse(body);
                Assert.Equal(code, problem.RootElement.GetProperty("status").GetInt32());
            }
        }
        output.WriteLine($"FIGURE api-fuzz: seed {seed}, {requests} requests in {watch.Elapsed.TotalSeconds:F1}s, 0 5xx, 0 stack traces, " +
                         $"every error problem+json, largest body {largestBody} bytes, {refusedBeforeApp} with %00 in the path refused by the server, {unsendable} not expressible as a URI; statuses: " +
                         string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}")));
    }

    private static (HttpMethod, string) NextRequest(Random random, string[] uuids, string cursor)
    {
        string Value()
        {
            var roll = random.Next(20);
            if (roll == 0) return new string((char)random.Next('a', 'z' + 1), random.Next(100, 6000)); // long: some pass 4096
            if (roll == 1) return cursor;
            if (roll == 2) return uuids[random.Next(uuids.Length)];
            if (roll == 3)
            {
                var bytes = new byte[random.Next(1, 40)];
                random.NextBytes(bytes);
                return Encoding.Latin1.GetString(bytes);
            }
            return Hostile[random.Next(Hostile.Length)];
        }
        string Segment()
        {
            var value = Value();
            // Mostly escaped properly; sometimes raw, so the router sees '/', '..' and '%' as they come.
            var escaped = Uri.EscapeDataString(value);
            return random.Next(4) == 0 ? escaped.Replace("%2F", "/").Replace("%25", "%").Replace("%5C", "\\") : escaped;
        }
        var id = random.Next(3) == 0 ? uuids[random.Next(uuids.Length)] : Segment();
        var path = random.Next(9) switch
        {
            0 => "/api/v1/gpus",
            1 => $"/api/v1/gpus/{id}",
            2 or 3 => $"/api/v1/gpus/{id}/telemetry",
            4 => "/api/v1/hosts",
            5 => $"/api/v1/hosts/{Segment()}/gpus",
            6 => $"/api/v1/{Segment()}",
            7 => $"/{Segment()}/{Segment()}",
            _ => $"/api/v1/gpus/{id}/telemetry/{Segment()}",
        };
        var query = new StringBuilder();
        for (var i = random.Next(0, 6); i > 0; i--)
        {
            query.Append(query.Length == 0 ? '?' : '&');
            query.Append(random.Next(8) == 0 ? Segment() : Parameters[random.Next(Parameters.Length)]);
            if (random.Next(10) > 0) query.Append('=').Append(Segment());
        }
        var method = random.Next(20) switch { 0 => HttpMethod.Post, 1 => HttpMethod.Delete, 2 => HttpMethod.Head, 3 => HttpMethod.Options, _ => HttpMethod.Get };
        return (method, path + query);
    }

    private static Task<string[]> KnownUuidsAsync(HttpClient client) =>
        Eventually.ValueAsync(async () =>
        {
            using var json = JsonDocument.Parse(await client.GetStringAsync("/api/v1/gpus"));
            return json.RootElement.GetProperty("gpus").EnumerateArray().Select(g => g.GetProperty("uuid").GetString()!).ToArray();
        }, uuids => uuids.Length > 0, "the fixture's GPUs to be listed", describe: uuids => $"{uuids.Length} GPUs");

    private static async Task<string> RealCursorAsync(HttpClient client, string uuid)
    {
        using var json = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/gpus/{uuid}/telemetry?limit=1"));
        return json.RootElement.GetProperty("pagination").GetProperty("next_cursor").GetString() ?? "";
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
