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
using Telemetry.Core.Windows;

namespace Telemetry.Gateway;

/// <summary>
/// The 200 of <c>GET /api/v1/gpus/{id}/telemetry</c>: a <see cref="TelemetryResponse"/> written as bytes straight
/// from the page's samples into the response body. A full window is 10,000 points and 1.3 MB; through the
/// serializer's metadata path a record per point cost several times what writing the bytes costs (benchmark figure
/// 5), and even <see cref="Utf8JsonWriter"/>'s per-token bookkeeping was a third of a whole-window request (figure 8).
/// Each point is a few copies of bytes prepared once per page (property names, escaped metric names, a time's text).
/// The bytes are the serializer's, property for property, with the gateway's JSON options (GatewayJsonTests holds
/// them equal), and the endpoint still declares <see cref="TelemetryResponse"/>, so the OpenAPI document does not
/// change. If the host asks for indented JSON, the serializer writes the page instead: the byte writer only knows
/// the compact form.
/// </summary>
internal sealed class TelemetryResult(string gpuId, TelemetryPage page, int limit, string? nextCursor)
    : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    // The most a point takes besides its metric name: the fixed text (64 bytes), two times (at most 36 each, quoted
    // with a seven-digit fraction, or 35 for a time with an offset) and a number (at most 24 bytes), with room to spare.
    private const int PointBytesBesidesName = 256;
    private const int BufferSizeHint = 16 * 1024;

    public int? StatusCode => StatusCodes.Status200OK;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(TelemetryResponse), ["application/json"]));

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        var json = httpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        if (json.WriteIndented)
        {
            await JsonSerializer.SerializeAsync(response.Body, ToResponse(), json, httpContext.RequestAborted);
            return;
        }
        var body = response.BodyWriter;
        var points = new PointWriter(json.Encoder);
        Begin(body, json.Encoder);
        foreach (var run in SampleRuns.Of(page.Samples))
        {
            points.Write(body, run);
            // Sent run by run (a run is one stored segment, tens of kilobytes): the socket carries one run while the
            // next is formatted, and the client reads it meanwhile. One flush for the whole 1.3 MB page left both
            // idle while it was formatted: its median was ~30% slower in figure 8 (1.9-2.1 ms against 1.4-1.5 ms).
            await body.FlushAsync(httpContext.RequestAborted);
        }
        End(body, json.Encoder);
        await body.FlushAsync(httpContext.RequestAborted);
    }

    private TelemetryResponse ToResponse() => new(gpuId,
        [.. page.Samples.Select(s => new TelemetryPoint(s.Timestamp, s.MetricName, s.Value, s.SourceTimestamp))],
        new CursorPagination(limit, nextCursor));

    private void Begin(IBufferWriter<byte> body, JavaScriptEncoder? encoder)
    {
        var output = new JsonBytes(body);
        output.Append("{\"gpu_id\":"u8);
        output.AppendString(gpuId, encoder);
        output.Append(",\"data\":["u8);
        output.Commit();
    }

    private void End(IBufferWriter<byte> body, JavaScriptEncoder? encoder)
    {
        var output = new JsonBytes(body);
        output.Append("],\"pagination\":{\"limit\":"u8);
        output.Advance(FormatNumber(limit, output.Reserve(32)));
        output.Append(",\"next_cursor\":"u8);
        if (nextCursor is null) output.Append("null"u8);
        else output.AppendString(nextCursor, encoder);
        output.Append("}}"u8);
        output.Commit();
    }

    /// <summary>The points of a page, run after run, with what it has formatted so far kept for the next run.</summary>
    private sealed class PointWriter(JavaScriptEncoder? encoder)
    {
        private readonly TimeJson _times = new();
        private readonly TimeJson _sources = new();
        private readonly NameCache _names = new(encoder);
        private bool _first = true;

        /// <summary>Synchronous, so the loop's state stays out of the caller's async state machine.</summary>
        public void Write(IBufferWriter<byte> body, ReadOnlySpan<MetricSample> samples)
        {
            var output = new JsonBytes(body);
            foreach (ref readonly var sample in samples)
            {
                var name = _names.Quoted(sample.MetricName);
                var point = output.Reserve(PointBytesBesidesName + name.Length);
                var at = 0;
                if (!_first) point[at++] = (byte)',';
                _first = false;
                Copy("{\"timestamp\":"u8, point, ref at);
                Copy(_times.Json(sample.Timestamp), point, ref at);
                Copy(",\"metric_name\":"u8, point, ref at);
                Copy(name, point, ref at);
                Copy(",\"value\":"u8, point, ref at);
                at += FormatNumber(sample.Value, point[at..]);
                Copy(",\"source_timestamp\":"u8, point, ref at);
                Copy(sample.SourceTimestamp is { } source ? _sources.Json(source) : "null"u8, point, ref at);
                point[at++] = (byte)'}';
                output.Advance(at);
            }
            output.Commit();
        }
    }

    private static void Copy(ReadOnlySpan<byte> bytes, Span<byte> destination, ref int at)
    {
        bytes.CopyTo(destination[at..]);
        at += bytes.Length;
    }

    /// <summary>As the serializer writes a double: the shortest text that reads back as the same value, and an
    /// <see cref="ArgumentException"/> for values JSON cannot hold. Whole values below 10^15 have the same text as
    /// the integer, which is a fraction of the cost to format; most GPU metrics (utilisation, clocks, memory,
    /// temperature) are whole.</summary>
    private static int FormatNumber(double value, Span<byte> destination)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{value} cannot be written as a JSON number.", nameof(value));
        int written;
        var formatted = Math.Abs(value) < 1e15 && value == Math.Truncate(value) && !(value == 0 && double.IsNegative(value))
            ? ((long)value).TryFormat(destination, out written, default, CultureInfo.InvariantCulture)
            : value.TryFormat(destination, out written, default, CultureInfo.InvariantCulture);
        return formatted ? written : throw new InvalidOperationException("A number did not fit its buffer.");
    }

    /// <summary>The response body as spans of the pipe's own memory, handed back in pieces of at least
    /// <see cref="BufferSizeHint"/> bytes instead of one write per token.</summary>
    private ref struct JsonBytes(IBufferWriter<byte> body)
    {
        private Span<byte> _buffer;
        private int _used;

        public Span<byte> Reserve(int bytes)
        {
            if (_buffer.Length - _used < bytes)
            {
                Commit();
                _buffer = body.GetSpan(Math.Max(bytes, BufferSizeHint));
            }
            return _buffer[_used..];
        }

        public void Advance(int bytes) => _used += bytes;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(Reserve(bytes.Length));
            _used += bytes.Length;
        }

        public void AppendString(string text, JavaScriptEncoder? encoder) => Append(Quote(text, encoder));

        public void Commit()
        {
            if (_used == 0) return;
            body.Advance(_used);
            _buffer = default;
            _used = 0;
        }
    }

    /// <summary>A JSON string as the serializer writes it with <paramref name="encoder"/> (null: the default one).</summary>
    private static byte[] Quote(string text, JavaScriptEncoder? encoder)
    {
        var escaped = JsonEncodedText.Encode(text, encoder).EncodedUtf8Bytes;
        var quoted = new byte[escaped.Length + 2];
        quoted[0] = quoted[^1] = (byte)'"';
        escaped.CopyTo(quoted.AsSpan(1));
        return quoted;
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

    /// <summary>A page holds few distinct metric names, each (since <c>MetricNames</c> in the decoder) as one string
    /// instance: each is escaped once and found again by reference; another instance of a known name by value.</summary>
    private sealed class NameCache(JavaScriptEncoder? encoder)
    {
        private readonly List<(string Name, byte[] Quoted)> _byReference = [];
        private readonly Dictionary<string, byte[]> _byValue = new(StringComparer.Ordinal);

        public ReadOnlySpan<byte> Quoted(string name)
        {
            foreach (var (known, quoted) in CollectionsMarshal.AsSpan(_byReference))
            {
                if (ReferenceEquals(known, name)) return quoted;
            }
            if (!_byValue.TryGetValue(name, out var bytes)) _byValue[name] = bytes = Quote(name, encoder);
            if (_byReference.Count < 64) _byReference.Add((name, bytes));
            return bytes;
        }
    }
}
