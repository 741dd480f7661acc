using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>Forged cursors and loose time strings (issue 15, items 8 and 9), through the embedded host.</summary>
public sealed class QueryInputTests
{
    private const string Gpu = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
    private const string OtherGpu = "GPU-bc7a12ab-4998-fdc5-0785-2678a929a142";

    /// <summary>The tiny fixture replayed, so every GPU soon has several samples (pages to follow).</summary>
    private static EmbeddedFactory Looping(Dictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string> { ["LOOP"] = "true", ["RATE"] = "200" };
        foreach (var (key, value) in settings ?? []) all[key] = value;
        return new EmbeddedFactory(all);
    }

    /// <summary>A client once both test GPUs hold at least <paramref name="samples"/> samples.</summary>
    private static async Task<HttpClient> ReadyClientAsync(EmbeddedFactory factory, int samples = 1)
    {
        var client = factory.CreateClient();
        foreach (var gpu in new[] { Gpu, OtherGpu })
        {
            for (var attempt = 0; ; attempt++)
            {
                using var response = await client.GetAsync($"/api/v1/gpus/{gpu}");
                if (response.IsSuccessStatusCode && (int)(await response.Content.ReadFromJsonAsync<JsonObject>())!["samples"]! >= samples) break;
                if (attempt == 600) throw new TimeoutException($"{gpu} never held {samples} samples");
                await Task.Delay(50);
            }
        }
        return client;
    }

    private static async Task<string> CursorAsync(HttpClient client, string gpu, string query = "")
    {
        var page = await client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{gpu}/telemetry?limit=1{query}");
        return (string?)page!["pagination"]!["next_cursor"] ?? throw new InvalidOperationException("no next page");
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path) => (await client.GetAsync(path)).StatusCode;

    [Fact]
    public async Task A_cursor_is_refused_unless_this_api_issued_it_for_this_gpu_and_query()
    {
        await using var factory = Looping();
        using var client = await ReadyClientAsync(factory, samples: 3);
        var cursor = await CursorAsync(client, Gpu);
        var escaped = Uri.EscapeDataString(cursor);

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?limit=1&cursor={escaped}"));
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?cursor=MDo")); // "0:" unsealed
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{OtherGpu}/telemetry?cursor={escaped}"));
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?start_time=2020-01-01T00:00:00Z&cursor={escaped}"));
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&cursor={escaped}"));
        var position = cursor[..cursor.IndexOf('.')];
        var mac = cursor[(cursor.IndexOf('.') + 1)..];
        var flipped = position + "." + (mac[0] == 'A' ? 'B' : 'A') + mac[1..];
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?cursor={Uri.EscapeDataString(flipped)}"));
        var moved = Convert.ToBase64String("1:Z"u8).TrimEnd('=') + "." + mac;
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(client, $"/api/v1/gpus/{Gpu}/telemetry?cursor={Uri.EscapeDataString(moved)}"));

        // The same filters in another order are the same query.
        var filtered = await CursorAsync(client, Gpu, "&metric=B&metric=DCGM_FI_DEV_GPU_UTIL&start_time=2020-01-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client,
            $"/api/v1/gpus/{Gpu}/telemetry?start_time=2020-01-01T00:00:00%2B00:00&metric=DCGM_FI_DEV_GPU_UTIL&metric=B&cursor={Uri.EscapeDataString(filtered)}"));
    }

    [Fact]
    public async Task Replicas_with_the_same_secret_accept_each_others_cursors_and_others_do_not()
    {
        var shared = new Dictionary<string, string> { ["CURSOR_SECRET"] = "a-shared-secret-for-replicas" };
        await using var first = Looping(shared);
        await using var second = new EmbeddedFactory(shared);
        await using var stranger = new EmbeddedFactory(new Dictionary<string, string> { ["CURSOR_SECRET"] = "another-secret-entirely!" });
        using var a = await ReadyClientAsync(first, samples: 2);
        using var b = await ReadyClientAsync(second);
        using var c = await ReadyClientAsync(stranger);
        var cursor = Uri.EscapeDataString(await CursorAsync(a, Gpu));

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, $"/api/v1/gpus/{Gpu}/telemetry?limit=1&cursor={cursor}"));
        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(c, $"/api/v1/gpus/{Gpu}/telemetry?limit=1&cursor={cursor}"));
    }

    [Fact]
    public void A_short_cursor_secret_stops_start_up_with_one_line()
    {
        var error = Assert.Throws<ConfigurationException>(() => new GatewaySecurityOptions { CursorSecret = "short" }.CursorKeyMaterial());
        Assert.StartsWith("CURSOR_SECRET:", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("7/18/2025", "must be an RFC 3339 date-time")]
    [InlineData("Fri, 18 Jul 2025 20:42:34 GMT", "must be an RFC 3339 date-time")]
    [InlineData("2025-07-18", "must be an RFC 3339 date-time")]
    [InlineData("2025-07-18 20:42:34Z", "must be an RFC 3339 date-time")]
    [InlineData("2025-07-18T20:42Z", "must be an RFC 3339 date-time")]
    [InlineData("2025-07-18T20:42:34.Z", "must be an RFC 3339 date-time")]
    [InlineData("2025-07-18T20:42:34+0200", "must be an RFC 3339 date-time")]
    [InlineData("２０２５-07-18T20:42:34Z", "must be an RFC 3339 date-time")] // full-width digits
    [InlineData("2025-02-30T00:00:00Z", "is not a real date")]
    [InlineData("2025-07-18T24:00:00Z", "is not a real date")]
    [InlineData("2025-07-18T20:42:34+24:00", "is not a real date")]
    [InlineData("9999-12-31T23:59:59-14:00", "is out of range")]
    [InlineData("0000-01-01T00:00:00Z", "is out of range")]
    [InlineData("0001-01-01T00:00:00+01:00", "is out of range")]
    [InlineData("2016-12-31T23:59:60Z", "is out of range")]
    public async Task Times_outside_rfc_3339_or_out_of_range_are_400_saying_which(string time, string expected)
    {
        await using var factory = new EmbeddedFactory();
        using var client = factory.CreateClient();
        using var response = await client.GetAsync($"/api/v1/gpus/{Gpu}/telemetry?start_time={Uri.EscapeDataString(time)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        var detail = (string)problem!["detail"]!;
        Assert.StartsWith("start_time", detail);
        Assert.Contains(expected, detail);
    }

    [Fact]
    public async Task Every_rfc_3339_spelling_of_one_instant_selects_from_the_same_sample()
    {
        await using var factory = new EmbeddedFactory();
        using var client = await ReadyClientAsync(factory);
        var all = await client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry");
        var first = (DateTime)all!["data"]![0]!["timestamp"]!;
        var utc = DateTime.SpecifyKind(first, DateTimeKind.Utc);
        string Format(DateTime time, string suffix) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", System.Globalization.CultureInfo.InvariantCulture) + suffix;
        string[] spellings =
        [
            Format(utc, "Z"),
            Format(utc, "z").Replace('T', 't'),
            Format(utc.AddHours(2), "+02:00"),
            Format(utc.AddHours(-5).AddMinutes(-30), "-05:30"),
            Format(utc, ""),
            Format(utc, "0000000000001Z"), // finer than 100 ns: cut off
        ];
        foreach (var spelling in spellings)
        {
            var page = await client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry?limit=1&start_time={Uri.EscapeDataString(spelling)}");
            Assert.True((DateTime)page!["data"]![0]!["timestamp"]! == first, $"{spelling} selected {page["data"]![0]!["timestamp"]}");
        }
        var later = await client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry?limit=1&start_time={Uri.EscapeDataString(Format(utc.AddTicks(1), "Z"))}");
        Assert.NotEqual(first, (DateTime?)later!["data"]!.AsArray().FirstOrDefault()?["timestamp"]);
    }
}
