using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
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
        // A point is five pieces: '{"timestamp":', the time, the metric's block (',"metric_name":"…","value":'), the
        // number, and the source's block (',"source_timestamp":…}'). Each but the first is copied as one padded block
        // (JsonBytes.CopyPadded), so a point needs this much room besides a metric block longer than a padded copy:
        // the fixed start (15 bytes with its comma), three texts of at most 37 bytes each and a block's padding.
        private const int PointBytes = 15 + 3 * 37 + 2 * JsonBytes.PaddedBytes;
        private const int MaxMetricBlocks = 64;

        private readonly TimeJson _times = new();
        private readonly TimeJson _sources = new();
        private readonly NameCache _names = NameCache.Rent(encoder);
        private readonly NumberJson _values = NumberJson.Rent();
        private readonly List<(string Name, byte[] Block, int Length)> _metricBlocks = [];
        private readonly byte[] _sourceBlock = new byte[2 * JsonBytes.PaddedBytes];
        private int _sourceLength;
        private DateTime? _source;
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
                var (metric, metricLength) = MetricBlock(sample.MetricName);
                var point = output.Reserve(PointBytes + metricLength);
                var at = 0;
                JsonBytes.Copy(_first ? "{\"timestamp\":"u8 : ",{\"timestamp\":"u8, point, ref at);
                _first = false;
                _times.Write(sample.Timestamp, point, ref at);
                JsonBytes.CopyPadded(metric, metricLength, point, ref at);
                _values.Write(sample.Value, point, ref at);
                JsonBytes.CopyPadded(_sourceBlock, SourceBlock(sample.SourceTimestamp), point, ref at);
                output.Advance(at);
            }
            output.Commit();
        }

        /// <summary>',"metric_name":"…","value":' for a metric, built once per page: names are few and, decoded, one
        /// instance each, so they are found by reference.</summary>
        private (byte[] Block, int Length) MetricBlock(string name)
        {
            foreach (var (known, block, length) in CollectionsMarshal.AsSpan(_metricBlocks))
            {
                if (ReferenceEquals(known, name)) return (block, length);
            }
            var quoted = _names.Quoted(name);
            var built = new byte[Math.Max(JsonBytes.PaddedBytes, 15 + quoted.Length + 9)];
            var at = 0;
            JsonBytes.Copy(",\"metric_name\":"u8, built, ref at);
            JsonBytes.Copy(quoted, built, ref at);
            JsonBytes.Copy(",\"value\":"u8, built, ref at);
            if (_metricBlocks.Count < MaxMetricBlocks) _metricBlocks.Add((name, built, at));
            return (built, at);
        }

        /// <summary>The length of ',"source_timestamp":…}' in <see cref="_sourceBlock"/>, rebuilt when the source time
        /// changes: every metric of one scrape carries the scrape's.</summary>
        private int SourceBlock(DateTime? source)
        {
            if (_sourceLength != 0 && source == _source && source?.Kind == _source?.Kind) return _sourceLength;
            var at = 0;
            JsonBytes.Copy(",\"source_timestamp\":"u8, _sourceBlock, ref at);
            if (source is { } time) JsonBytes.Copy(_sources.Json(time), _sourceBlock, ref at);
            else JsonBytes.Copy("null"u8, _sourceBlock, ref at);
            _sourceBlock[at++] = (byte)'}';
            (_source, _sourceLength) = (source, at);
            return at;
        }
    }
}
