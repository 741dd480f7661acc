using System.Buffers;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using Telemetry.Core.Model;
using Telemetry.Core.Queries;
using Telemetry.Core.Windows;

namespace Telemetry.Gateway;

/// <summary>
/// The 200 of <c>GET /api/v1/gpus/{id}/telemetry</c>, written straight from the page's samples into the response body.
/// A full window is 10,000 points and 1.3 MB; through the serializer's metadata path a record per point cost several
/// times what writing the bytes costs (benchmark figure 5), and even <see cref="System.Text.Json.Utf8JsonWriter"/>'s
/// per-token bookkeeping was a third of a whole-window request (figure 8). Each point is a few copies of bytes prepared
/// once per page (property names, escaped metric names, a time's text) and a number.
/// </summary>
internal sealed class TelemetryResult(string gpuId, TelemetryPage page, int limit, string? nextCursor) : JsonBytesResult<TelemetryResponse>
{
    // The most a point takes besides its metric name: the fixed text (64 bytes), two times (at most 36 each, quoted
    // with a seven-digit fraction, or 35 for a time with an offset) and a number (at most 24 bytes), with room to spare.
    private const int PointBytesBesidesName = 256;

    protected override async Task WriteAsync(PipeWriter body, JavaScriptEncoder? encoder, CancellationToken cancellationToken)
    {
        // The page's pooled arrays go back once written (or once the client went away).
        using var written = page;
        using var points = new PointWriter(encoder);
        Begin(body, encoder);
        foreach (var run in SampleRuns.Of(page.Samples))
        {
            points.Write(body, run);
            // Sent run by run (a run is one stored segment, tens of kilobytes): the socket carries one run while the
            // next is formatted, and the client reads it meanwhile. One flush for the whole 1.3 MB page left both
            // idle while it was formatted: its median was ~30% slower in figure 8 (1.9-2.1 ms against 1.4-1.5 ms).
            await body.FlushAsync(cancellationToken);
        }
        End(body, encoder);
        await body.FlushAsync(cancellationToken);
    }

    protected override TelemetryResponse ToResponse() => new(gpuId,
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
        output.Advance(JsonBytes.FormatNumber(limit, output.Reserve(32)));
        output.Append(",\"next_cursor\":"u8);
        if (nextCursor is null) output.Append("null"u8);
        else output.AppendString(nextCursor, encoder);
        output.Append("}}"u8);
        output.Commit();
    }

    /// <summary>The points of a page, run after run, with what it has formatted so far kept for the next run.</summary>
    private sealed class PointWriter(JavaScriptEncoder? encoder) : IDisposable
    {
        private readonly TimeJson _times = new();
        private readonly TimeJson _sources = new();
        private readonly NameCache _names = NameCache.Rent(encoder);
        private readonly NumberJson _values = NumberJson.Rent();
        private bool _first = true;

        /// <summary>Gives the borrowed tables back (to the thread that finished the answer).</summary>
        public void Dispose()
        {
            NameCache.Return(_names);
            NumberJson.Return(_values);
        }

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
                JsonBytes.Copy("{\"timestamp\":"u8, point, ref at);
                JsonBytes.Copy(_times.Json(sample.Timestamp), point, ref at);
                JsonBytes.Copy(",\"metric_name\":"u8, point, ref at);
                JsonBytes.Copy(name, point, ref at);
                JsonBytes.Copy(",\"value\":"u8, point, ref at);
                JsonBytes.Copy(_values.Json(sample.Value), point, ref at);
                JsonBytes.Copy(",\"source_timestamp\":"u8, point, ref at);
                JsonBytes.Copy(sample.SourceTimestamp is { } source ? _sources.Json(source) : "null"u8, point, ref at);
                point[at++] = (byte)'}';
                output.Advance(at);
            }
            output.Commit();
        }
    }
}
