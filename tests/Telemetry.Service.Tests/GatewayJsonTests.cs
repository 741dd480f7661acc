using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Gateway;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Telemetry.Service.Tests;

/// <summary>The telemetry endpoint writes its JSON by hand (<see cref="TelemetryResult"/>); these hold it to
/// the bytes the serializer writes for <see cref="TelemetryResponse"/> with the gateway's JSON options.</summary>
public sealed class GatewayJsonTests
{
    private static readonly DateTime T0 = new(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);

    public static TheoryData<string> Pages => ["empty", "tricky", "next"];

    // Whole values take a shortcut in the writer; these are its edges.
    private static readonly double[] WholeAndNearlyWhole =
    [
        0, -0.0, 1, -1, 80, 1234, 81559, 2147483648, -2147483649, 99999999999999, 999999999999999, -999999999999999,
        1e15, -1e15, 1e15 + 2, 9007199254740993, 1e16, 1e300, -1e300, 0.1, 999999999999999.9, 1e-7, 5e-324, 12.5,
        long.MaxValue, long.MinValue, 1.7976931348623157E+308,
    ];

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Telemetry_json_is_byte_for_byte_what_the_serializer_writes(string name)
    {
        MetricSample[] samples = name switch
        {
            "empty" => [],
            _ =>
            [
                new(T0, "DCGM_FI_DEV_GPU_TEMP", 41, T0.AddSeconds(-1)),
                new(T0.AddTicks(1), "temp \"quoted\" <b>&amp;</b> \\ \u0001", -0.0, null),
                new(T0.AddTicks(1234567), "température_GPU_温度_😀", 1.0 / 3, new DateTime(1, 1, 1, 0, 0, 0, DateTimeKind.Utc)),
                new(DateTime.MaxValue.ToUniversalTime(), "m", double.MaxValue, DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc)),
                new(T0.AddMilliseconds(5), "m", double.Epsilon, T0),
                new(T0.AddMilliseconds(6), "m", 1e21, T0.AddTicks(10)),
                new(T0.AddMilliseconds(7), "m", -123456789.125, T0.AddTicks(100)),
                .. WholeAndNearlyWhole.Select((value, i) => new MetricSample(T0.AddSeconds(i), "DCGM_FI_DEV_FB_USED", value, T0)),
                // Repeated source times, then the same instant in other kinds (DateTime equality ignores the kind).
                new(T0, "m", 1, T0.AddTicks(5)),
                new(T0, "m", 2, DateTime.SpecifyKind(T0.AddTicks(5), DateTimeKind.Unspecified)),
                new(T0, "m", 3, DateTime.SpecifyKind(T0.AddTicks(5), DateTimeKind.Unspecified)),
                new(T0, "m", 4, null),
                new(T0, "m", 5, DateTime.SpecifyKind(T0.AddTicks(5), DateTimeKind.Unspecified)),
                new(T0, "m", 6, T0.AddTicks(5)),
                new(DateTime.SpecifyKind(T0, DateTimeKind.Unspecified), "m", 7, T0.AddTicks(5).ToLocalTime()),
            ],
        };
        var next = name == "next" ? TelemetryCursor.After(samples[2]) : (TelemetryCursor?)null;
        var page = new TelemetryPage(samples, next);

        var written = await WriteAsync(new TelemetryResult("GPU-ü\"1", page, 500, next?.Encode()));
        var expected = JsonSerializer.SerializeToUtf8Bytes(new TelemetryResponse("GPU-ü\"1",
            [.. samples.Select(s => new TelemetryPoint(s.Timestamp, s.MetricName, s.Value, s.SourceTimestamp))],
            new CursorPagination(500, next?.Encode())), GatewayOptions());

        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
    }

    [Fact]
    public async Task Times_of_every_precision_and_across_minutes_are_written_as_the_serializer_writes_them()
    {
        // Whole seconds, each fraction length, minute/hour/day/year boundaries, both ends of the range, kinds mixed in.
        var random = new Random(13);
        var times = new List<DateTime>
        {
            DateTime.MinValue.ToUniversalTime(), new(1, 1, 1, 0, 0, 0, DateTimeKind.Utc), new(999, 12, 31, 23, 59, 59, DateTimeKind.Utc),
            new DateTime(2026, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(9_999_999), new(2027, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc), DateTime.SpecifyKind(T0, DateTimeKind.Unspecified), T0.AddTicks(7),
        };
        for (var digits = 0; digits <= 7; digits++) times.Add(T0.AddTicks((long)Math.Pow(10, digits)));
        for (var i = 0; i < 2000; i++) times.Add(T0.AddTicks(random.NextInt64(-TimeSpan.TicksPerDay, TimeSpan.TicksPerDay)));
        for (var i = 0; i < 200; i++) times.Add(T0.AddSeconds(i * 7.5)); // minutes in a row, halves of seconds
        var samples = times.Select((t, i) => new MetricSample(t, "m", i, i % 3 == 0 ? null : times[^(i % 50 + 1)])).ToArray();

        var written = await WriteAsync(new TelemetryResult("g", new TelemetryPage(samples, null), 10_000, null));
        var expected = JsonSerializer.SerializeToUtf8Bytes(new TelemetryResponse("g",
            [.. samples.Select(s => new TelemetryPoint(s.Timestamp, s.MetricName, s.Value, s.SourceTimestamp))],
            new CursorPagination(10_000, null)), GatewayOptions());

        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public async Task Non_finite_values_fail_as_the_serializer_fails(double value)
    {
        var page = new TelemetryPage([new MetricSample(T0, "m", value, null)], null);
        Assert.Throws<ArgumentException>(() => JsonSerializer.SerializeToUtf8Bytes(
            new TelemetryResponse("g", [new TelemetryPoint(T0, "m", value, null)], new CursorPagination(1, null)), GatewayOptions()));
        await Assert.ThrowsAsync<ArgumentException>(() => WriteAsync(new TelemetryResult("g", page, 1, null)));
    }

    [Fact]
    public async Task A_full_page_is_written_whole()
    {
        var samples = Enumerable.Range(0, 10_000).Select(i => new MetricSample(T0.AddTicks(i), "DCGM_FI_DEV_GPU_UTIL", i, null)).ToArray();
        using var document = JsonDocument.Parse(await WriteAsync(new TelemetryResult("g", new TelemetryPage(samples, null), 10_000, null)));
        Assert.Equal(10_000, document.RootElement.GetProperty("data").GetArrayLength());
    }

    public static TheoryData<string> SeriesCases => ["empty-no-range", "empty-range", "tricky", "repeats"];

    [Theory]
    [MemberData(nameof(SeriesCases))]
    public async Task Series_json_is_byte_for_byte_what_the_serializer_writes(string name)
    {
        SeriesResult result = name switch
        {
            "empty-no-range" => new SeriesResult(null, null, 0, []),
            "empty-range" => new SeriesResult(T0, T0.AddTicks(1), 1, []),
            // Values that repeat within and across buckets, from a pool larger than the writer's table of formatted
            // numbers (NumberJson): hits, misses and two values sharing a slot must all read the same.
            "repeats" => new SeriesResult(T0, T0.AddSeconds(600), TimeSpan.TicksPerSecond, [.. Enumerable.Range(0, 3).Select(m =>
            {
                var random = new Random(m);
                var pool = Enumerable.Range(0, 150).Select(_ => random.Next(2) == 0 ? random.Next(-5, 100_000) : Math.Round(random.NextDouble() * 400, random.Next(6))).ToArray();
                return new MetricSeries($"metric-{m}", [.. Enumerable.Range(0, 600).Select(i =>
                {
                    var (low, high) = (pool[random.Next(pool.Length)], pool[random.Next(pool.Length)]);
                    return new SeriesPoint(T0.AddSeconds(i), low, high, (low + high) / 2, random.Next(2) == 0 ? low : high, i + 1);
                })]);
            })]),
            _ => new SeriesResult(T0, T0.AddHours(1).AddTicks(3), 7_200_001,
            [
                new MetricSeries("DCGM_FI_DEV_GPU_TEMP",
                [
                    new SeriesPoint(T0, 41, 44, 42.333333333333336, 44, 3),
                    new SeriesPoint(T0.AddTicks(7_200_001), -0.0, 0, 0, -0.0, 1),
                    new SeriesPoint(T0.AddTicks(14_400_002), 1e-7, 1e21, 5e20, double.Epsilon, int.MaxValue),
                ]),
                new MetricSeries("temp \"quoted\" <b>&amp;</b> \\ \u0001 température_温度_😀",
                [.. WholeAndNearlyWhole.Select((value, i) => new SeriesPoint(T0.AddSeconds(i), value, value, value / 3, value, i + 1))]),
            ]),
        };

        var written = await WriteAsync(new SeriesJsonResult("GPU-ü\"1", result));
        var expected = JsonSerializer.SerializeToUtf8Bytes(SeriesResponse.From("GPU-ü\"1", result), GatewayOptions());

        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
    }

    /// <summary>Answers borrow the thread's number and name tables (<c>NumberJson.Rent</c>, <c>NameCache.Rent</c>): what
    /// one answer left in them must never show in the next — other values in the same slots, other instances and
    /// spellings of names, and a host with another encoder, whose escaped names differ.</summary>
    [Fact]
    public async Task Answers_written_one_after_another_stay_exact_whatever_the_previous_one_left()
    {
        // The gateway's options leave <, & and non-ASCII as they are; the strict default encoder escapes them.
        var strict = new ServiceCollection().AddLogging().AddTelemetryGateway()
            .Configure<HttpJsonOptions>(o => o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default)
            .BuildServiceProvider();
        var rounds = new[]
        {
            (Services, new[] { "DCGM_FI_DEV_GPU_TEMP", "<b>&amp;</b>" }, 0.1),
            (Services, new[] { new string("DCGM_FI_DEV_GPU_TEMP".AsSpan()), "other" }, 0.2),
            (strict, new[] { "<b>&amp;</b>", "température" }, 0.1),
            (Services, new[] { "<b>&amp;</b>", "température" }, 1e-7),
        };
        foreach (var (services, names, step) in rounds)
        {
            var samples = Enumerable.Range(0, 200).Select(i => new MetricSample(T0.AddSeconds(i), names[i % 2], i * step, null)).ToArray();
            var options = services.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;

            var written = await WriteAsync(new TelemetryResult("g", new TelemetryPage(samples, null), 500, null), services);
            var expected = JsonSerializer.Serialize(new TelemetryResponse("g",
                [.. samples.Select(s => new TelemetryPoint(s.Timestamp, s.MetricName, s.Value, s.SourceTimestamp))], new CursorPagination(500, null)), options);
            Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(written));
        }
    }

    [Fact]
    public async Task A_host_that_asks_for_indented_json_gets_it_from_the_serializer()
    {
        using var indented = new ServiceCollection().AddLogging().AddTelemetryGateway()
            .ConfigureHttpJsonOptions(json => json.SerializerOptions.WriteIndented = true).BuildServiceProvider();
        var options = indented.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
        var samples = new[] { new MetricSample(T0, "m", 1.5, null) };
        var series = new SeriesResult(T0, T0, 1, [new MetricSeries("m", [new SeriesPoint(T0, 1.5, 1.5, 1.5, 1.5, 1)])]);

        var page = await WriteAsync(new TelemetryResult("g", new TelemetryPage(samples, null), 1, null), indented);
        var buckets = await WriteAsync(new SeriesJsonResult("g", series), indented);

        Assert.Equal(JsonSerializer.Serialize(new TelemetryResponse("g", [new TelemetryPoint(T0, "m", 1.5, null)], new CursorPagination(1, null)), options),
            System.Text.Encoding.UTF8.GetString(page));
        Assert.Equal(JsonSerializer.Serialize(SeriesResponse.From("g", series), options), System.Text.Encoding.UTF8.GetString(buckets));
        Assert.Contains('\n', System.Text.Encoding.UTF8.GetString(page));
    }

    private static readonly ServiceProvider Services = new ServiceCollection().AddLogging().AddTelemetryGateway().BuildServiceProvider();

    private static JsonSerializerOptions GatewayOptions() => Services.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;

    private static async Task<byte[]> WriteAsync(IResult result, IServiceProvider? services = null)
    {
        var context = new DefaultHttpContext { RequestServices = services ?? Services };
        using var body = new MemoryStream();
        context.Response.Body = body;
        await result.ExecuteAsync(context);
        Assert.Equal("application/json; charset=utf-8", context.Response.ContentType);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        return body.ToArray();
    }
}
