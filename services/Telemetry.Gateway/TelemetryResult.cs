using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;

namespace Telemetry.Gateway;

/// <summary>
/// The 200 of <c>GET /api/v1/gpus/{id}/telemetry</c>: a <see cref="TelemetryResponse"/> written with
/// <see cref="Utf8JsonWriter"/> straight from the page's samples to the response body. A full window is
/// 10,000 points; a record per point serialised through the serializer's metadata path cost several times
/// what writing the bytes costs (benchmark figure 5). The bytes are the serializer's, property for property
/// (GatewayJsonTests holds them equal), and the endpoint still declares <see cref="TelemetryResponse"/>, so
/// the OpenAPI document does not change.
/// </summary>
internal sealed class TelemetryResult(string gpuId, TelemetryPage page, int limit, string? nextCursor)
    : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    private static readonly JsonEncodedText GpuId = JsonEncodedText.Encode("gpu_id");
    private static readonly JsonEncodedText Data = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText MetricName = JsonEncodedText.Encode("metric_name");
    private static readonly JsonEncodedText Value = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText SourceTimestamp = JsonEncodedText.Encode("source_timestamp");
    private static readonly JsonEncodedText Pagination = JsonEncodedText.Encode("pagination");
    private static readonly JsonEncodedText Limit = JsonEncodedText.Encode("limit");
    private static readonly JsonEncodedText NextCursor = JsonEncodedText.Encode("next_cursor");

    public int? StatusCode => StatusCodes.Status200OK;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(TelemetryResponse), ["application/json"]));

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        var body = response.BodyWriter;
        // The writer settings the serializer would use with the gateway's JSON options (ASP.NET's escape
        // less than the default encoder does).
        var json = httpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        await using var writer = new Utf8JsonWriter(body, new JsonWriterOptions
        {
            Encoder = json.Encoder,
            Indented = json.WriteIndented,
            IndentCharacter = json.IndentCharacter,
            IndentSize = json.IndentSize,
            NewLine = json.NewLine,
            SkipValidation = true,
        });
        var names = new NameCache(json.Encoder);
        writer.WriteStartObject();
        writer.WriteString(GpuId, gpuId);
        writer.WriteStartArray(Data);
        WritePoints(writer, page.Samples, names);
        writer.WriteEndArray();
        writer.WriteStartObject(Pagination);
        writer.WriteNumber(Limit, limit);
        writer.WriteString(NextCursor, nextCursor);
        writer.WriteEndObject();
        writer.WriteEndObject();
        // One flush for the whole page (at most MaxTelemetryPage points, about 1.3 MB), as for a body written
        // in one piece: a flush every few kilobytes, as the serializer does, costs an await each (20+ for a full
        // window), and each is a thread-pool round trip that a busy host makes slow.
        writer.Flush();
        await body.FlushAsync(httpContext.RequestAborted);
    }

    /// <summary>Synchronous, so the loop's state stays out of the async state machine.</summary>
    private static void WritePoints(Utf8JsonWriter writer, IReadOnlyList<MetricSample> samples, NameCache names)
    {
        var times = new TimeJson();
        var sources = new TimeJson();
        foreach (var sample in samples)
        {
            writer.WriteStartObject();
            writer.WritePropertyName(Timestamp);
            writer.WriteRawValue(times.Json(sample.Timestamp), skipInputValidation: true);
            writer.WriteString(MetricName, names.Encoded(sample.MetricName));
            WriteValue(writer, sample.Value);
            writer.WritePropertyName(SourceTimestamp);
            if (sample.SourceTimestamp is { } source) writer.WriteRawValue(sources.Json(source), skipInputValidation: true);
            else writer.WriteNullValue();
            writer.WriteEndObject();
        }
    }

    /// <summary>As the serializer writes a double. Whole values below 10^15 print as their integer digits in the
    /// shortest round-trip form the serializer uses, and formatting them as integers costs a fraction; most
    /// GPU metrics (utilisation, clocks, memory, temperature) are whole.</summary>
    private static void WriteValue(Utf8JsonWriter writer, double value)
    {
        if (Math.Abs(value) < 1e15 && value == Math.Truncate(value) && !(value == 0 && double.IsNegative(value)))
        {
            writer.WriteNumber(Value, (long)value);
        }
        else
        {
            writer.WriteNumber(Value, value);
        }
    }

    /// <summary>Times as the serializer writes them, formatted once per distinct time. Formatting was the dearest part
    /// of a point: source times repeat (every metric of one scrape carries the scrape's), so the last one is kept and
    /// copied while it repeats; a UTC time (what the store holds) is written from its minute's text, kept while the
    /// minute lasts, plus seconds and the fraction without its trailing zeros ("O" less the zeros, as the serializer
    /// writes it; GatewayJsonTests holds the bytes equal). Other kinds go through a <see cref="Utf8JsonWriter"/>.</summary>
    private sealed class TimeJson
    {
        private readonly byte[] _json = new byte[64];
        private readonly ArrayBufferWriter<byte> _slow = new(64);
        private Utf8JsonWriter? _writer;
        private int _length;
        private DateTime _last;
        private bool _any;
        private long _minute = -1;
        private int _minuteLength;

        public ReadOnlySpan<byte> Json(DateTime time)
        {
            // DateTime equality ignores the kind, which the format shows.
            if (_any && time.Ticks == _last.Ticks && time.Kind == _last.Kind) return _json.AsSpan(0, _length);
            (_last, _any) = (time, true);
            if (time.Kind == DateTimeKind.Utc) FormatUtc(time);
            else FormatOther(time);
            return _json.AsSpan(0, _length);
        }

        private void FormatUtc(DateTime time)
        {
            var minute = time.Ticks / TimeSpan.TicksPerMinute;
            if (minute != _minute)
            {
                _json[0] = (byte)'"';
                if (!time.TryFormat(_json.AsSpan(1), out var written, "yyyy'-'MM'-'dd'T'HH':'mm':'", CultureInfo.InvariantCulture))
                    throw new InvalidOperationException("A time did not fit its buffer.");
                (_minute, _minuteLength) = (minute, written + 1);
            }
            var within = time.Ticks - minute * TimeSpan.TicksPerMinute;
            var seconds = (int)(within / TimeSpan.TicksPerSecond);
            var fraction = (int)(within % TimeSpan.TicksPerSecond);
            var at = _minuteLength;
            _json[at++] = (byte)('0' + seconds / 10);
            _json[at++] = (byte)('0' + seconds % 10);
            if (fraction != 0)
            {
                _json[at++] = (byte)'.';
                var digits = 7;
                while (fraction % 10 == 0)
                {
                    fraction /= 10;
                    digits--;
                }
                for (var i = digits - 1; i >= 0; i--, fraction /= 10) _json[at + i] = (byte)('0' + fraction % 10);
                at += digits;
            }
            _json[at++] = (byte)'Z';
            _json[at++] = (byte)'"';
            _length = at;
        }

        private void FormatOther(DateTime time)
        {
            _minute = -1; // the minute's text is overwritten
            _slow.ResetWrittenCount();
            _writer ??= new Utf8JsonWriter(_slow);
            _writer.Reset();
            _writer.WriteStringValue(time);
            _writer.Flush();
            _slow.WrittenSpan.CopyTo(_json);
            _length = _slow.WrittenCount;
        }
    }

    /// <summary>A page holds few distinct metric names, each as one string instance per segment it came from:
    /// each is escaped once, and found again by reference.</summary>
    private sealed class NameCache(JavaScriptEncoder? encoder)
    {
        private readonly List<(string Name, JsonEncodedText Encoded)> _names = [];

        public JsonEncodedText Encoded(string name)
        {
            foreach (var (known, encoded) in CollectionsMarshal.AsSpan(_names))
            {
                if (ReferenceEquals(known, name)) return encoded;
            }
            var added = JsonEncodedText.Encode(name, encoder);
            if (_names.Count < 64) _names.Add((name, added));
            return added;
        }
    }
}
