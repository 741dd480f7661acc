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
/// of bounded size, and every error answered as application/problem+json. One request in four is a write-path
/// or forgery shape from issue 15, with the answer it must get: cross-site form posts (403), huge form fields
/// (400), chunked bodies (411), invented methods (no 5xx), forged cursors (400).
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
        // Imports open, as on a trusted network, so uploads reach the intake rather than stopping at the gate; the
        // fixture replayed slowly, so each GPU holds several samples and a real cursor exists.
        await using var factory = new EmbeddedFactory(new Dictionary<string, string>
        {
            ["IMPORTS_ENABLED"] = "true",
            ["LOOP"] = "true",
            ["RATE"] = "20",
        });
        using var client = factory.CreateClient();
        var uuids = await KnownUuidsAsync(client);
        Assert.NotEmpty(uuids);
        var cursor = await RealCursorAsync(client, uuids[0]);

        var seed = FuzzSettings.Seed;
        var random = new Random(seed);
        var budget = FuzzSettings.Duration(5);
        var statuses = new SortedDictionary<int, int>();
        var watch = Stopwatch.StartNew();
        var requests = 0;
        var shapes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var refusedBeforeApp = 0;
        var unsendable = 0;
        long largestBody = 0;
        while (watch.Elapsed < budget)
        {
            var probe = random.Next(4) == 0 ? NextWriteOrForgery(random, uuids, cursor) : null;
            var (method, target) = probe is null ? NextRequest(random, uuids, cursor) : (probe.Method, probe.Target);
            HttpResponseMessage sent;
            try
            {
                using var request = probe?.Build(client.BaseAddress!) ?? new HttpRequestMessage(method, new Uri(client.BaseAddress!, target));
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
            var context = $"seed {seed}, request {requests}: {probe?.Shape ?? "query"} {Shorten(method.Method)} {Shorten(target)} → {code}";
            Assert.True(code < 500, $"{context}: {Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 500)))}");
            if (probe is not null)
            {
                shapes[probe.Shape] = shapes.GetValueOrDefault(probe.Shape) + 1;
                Assert.True(probe.Expected.Contains(code), $"{context}: expected {string.Join(" or ", probe.Expected)}");
            }
            Assert.True(body.Length <= MaxBodyBytes, $"{context}: body of {body.Length} bytes");
            var text = Encoding.UTF8.GetString(body);
            Assert.False(text.Contains("   at ", StringComparison.Ordinal) || text.Contains("Exception", StringComparison.Ordinal)
                         || text.Contains("StackTrace", StringComparison.OrdinalIgnoreCase), $"{context}: internals in body: {Shorten(text)}");
            if (code >= 400 && method != HttpMethod.Head && method.Method is "GET" or "POST" or "DELETE" or "OPTIONS" or "PUT")
            {
                Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
                    $"{context}: content type {response.Content.Headers.ContentType}");
                using var problem = JsonDocument.Parse(body);
                Assert.Equal(code, problem.RootElement.GetProperty("status").GetInt32());
            }
        }
        output.WriteLine($"FIGURE api-fuzz: seed {seed}, {requests} requests in {watch.Elapsed.TotalSeconds:F1}s, 0 5xx, 0 stack traces, " +
                         $"every error problem+json, largest body {largestBody} bytes, {refusedBeforeApp} with %00 in the path refused by the server, {unsendable} not expressible as a URI; statuses: " +
                         string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}")) + "; write/forgery shapes, each with its expected answer: " +
                         string.Join(", ", shapes.Select(s => $"{s.Key}×{s.Value}")));
    }

    /// <summary>A request of one of issue 15's shapes and the statuses it may get.</summary>
    private sealed record Probe(string Shape, HttpMethod Method, string Target, int[] Expected, Func<HttpContent?> Body,
        (string Name, string Value)[] Headers, bool Chunked = false)
    {
        public HttpRequestMessage Build(Uri baseAddress)
        {
            var request = new HttpRequestMessage(Method, new Uri(baseAddress, Target)) { Content = Body() };
            foreach (var (name, value) in Headers) request.Headers.TryAddWithoutValidation(name, value);
            if (Chunked) request.Headers.TransferEncodingChunked = true;
            return request;
        }
    }

    private const string DcgmHeader = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

    private static Probe NextWriteOrForgery(Random random, string[] uuids, string cursor)
    {
        var csv = $"{DcgmHeader}\n\"2025-07-18T20:42:34Z\",\"M\",\"0\",\"nvidia0\",\"{uuids[random.Next(uuids.Length)]}\",\"x\",\"y\",\"\",\"\",\"\",\"1\",\"\"\n";
        MultipartFormDataContent Form(string? field = null)
        {
            var form = new MultipartFormDataContent();
            if (field is not null) form.Add(new StringContent(field), random.Next(2) == 0 ? "hostname" : "note");
            form.Add(new StringContent(csv), "file", "fuzz.csv");
            return form;
        }
        (string, string)[] crossSite = random.Next(3) switch
        {
            0 => [("Origin", "https://evil.example.com"), ("Sec-Fetch-Site", "cross-site")],
            1 => [("Origin", random.Next(2) == 0 ? "null" : "http://attacker.test:8081")],
            _ => [("Sec-Fetch-Site", random.Next(2) == 0 ? "cross-site" : "same-site")],
        };
        var gpu = uuids[random.Next(uuids.Length)];
        switch (random.Next(6))
        {
            case 0:
                return new Probe("cross-site-form", random.Next(4) == 0 ? HttpMethod.Delete : HttpMethod.Post,
                    "/api/v1/imports" + (random.Next(2) == 0 ? "" : "/x"), [403], () => Form(), crossSite);
            case 1:
                var size = random.Next(2) == 0 ? random.Next(1025, 8 * 1024) : random.Next(64 * 1024, 4 * 1024 * 1024);
                return new Probe("huge-form-field", HttpMethod.Post, "/api/v1/imports", [400], () => Form(new string('a', size)), []);
            case 2:
                return new Probe("chunked-body", HttpMethod.Post, "/api/v1/imports", [411],
                    () => random.Next(2) == 0 ? Form() : new StringContent(csv, Encoding.UTF8, "text/csv"), [], Chunked: true);
            case 3:
                var name = new string(Enumerable.Range(0, random.Next(1, 64)).Select(_ => (char)random.Next('A', 'Z' + 1)).ToArray());
                var target = random.Next(3) switch { 0 => "/api/v1/gpus", 1 => "/api/v1/imports", _ => $"/api/v1/gpus/{gpu}/telemetry" };
                return new Probe("invented-method", new HttpMethod(name), target, [.. Enumerable.Range(400, 100)], () => null, []);
            case 4:
                // Forged or foreign cursors on a GPU that exists: never applied, always 400.
                var forged = random.Next(5) switch
                {
                    0 => "MDo",
                    1 => cursor[..(cursor.IndexOf('.') + 1)] + (cursor[cursor.IndexOf('.') + 1] == 'A' ? 'B' : 'A') + cursor[(cursor.IndexOf('.') + 2)..],
                    2 => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{random.NextInt64()}:M")).TrimEnd('=') + "." + cursor[(cursor.IndexOf('.') + 1)..],
                    3 => cursor,
                    _ => "AAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
                };
                // A real cursor is foreign on another GPU or with a different filter.
                var query = forged == cursor ? (random.Next(2) == 0 ? "&metric=OTHER" : "&start_time=2020-01-01T00:00:00Z") : "";
                var other = forged == cursor && query.Length == 0 ? uuids.First(u => u != uuids[0]) : gpu;
                return new Probe("forged-cursor", HttpMethod.Get, $"/api/v1/gpus/{other}/telemetry?cursor={Uri.EscapeDataString(forged)}{query}", [400], () => null, []);
            default:
                return new Probe("same-origin-upload", HttpMethod.Post, "/api/v1/imports", [202, 429], () => Form(),
                    random.Next(2) == 0 ? [("Origin", "http://localhost"), ("Sec-Fetch-Site", "same-origin")] : []);
        }
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
        }, uuids => uuids.Length > 1, "at least two of the fixture's GPUs to be listed", describe: uuids => $"{uuids.Length} GPUs");

    private static async Task<string> RealCursorAsync(HttpClient client, string uuid)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var json = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/gpus/{uuid}/telemetry?limit=1"));
            if (json.RootElement.GetProperty("pagination").GetProperty("next_cursor").GetString() is { } cursor) return cursor;
            if (attempt == 600) throw new TimeoutException($"{uuid} never held two samples");
            await Task.Delay(50);
        }
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
