using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using Telemetry.Core.Queries;

namespace Telemetry.Gateway;

/// <summary>
/// The 200 of <c>GET /api/v1/gpus/{id}/series</c>, written as bytes like <see cref="TelemetryResult"/>. Through the
/// serializer, a whole window's ~3,000 buckets cost more to write than to compute: a record per bucket, and four
/// doubles each formatted the long way although three of them (min, max, last) are sample values and mostly whole.
/// </summary>
internal sealed class SeriesJsonResult(string gpuId, SeriesResult result) : JsonBytesResult<SeriesResponse>
{
    // A bucket's fixed text (60 bytes), its time (at most 37) and four numbers and a count (at most 24 each), and the
    // padding of the last block copied (JsonBytes.CopyPadded).
    private const int BucketBytes = 256 + JsonBytes.PaddedBytes;
    private const int FlushBytes = 48 * 1024;

    protected override async Task WriteAsync(PipeWriter body, JavaScriptEncoder? encoder, CancellationToken cancellationToken)
    {
        // The points' pooled arrays go back once written (or once the client went away).
        using var written = result;
        var times = new TimeJson();
        var numbers = NumberJson.Rent();
        Begin(body, encoder, times);
        // Sent in pieces of at least FlushBytes, between metrics: the socket carries one piece while the next is
        // written. One flush for a whole window's ~300 KB left the socket idle while it was written; with pieces of
        // two metrics (~60 KB) the median fell from 0.67-0.70 to 0.59-0.60 ms, with one metric (~30 KB) to 0.60-0.62
        // (docs/performance.md, "tenth pass").
        long unflushed = 0;
        for (var i = 0; i < result.Series.Count; i++)
        {
            unflushed += WriteSeries(body, encoder, times, numbers, result.Series[i], first: i == 0);
            if (unflushed < FlushBytes) continue;
            await body.FlushAsync(cancellationToken);
            unflushed = 0;
        }
        NumberJson.Return(numbers);
        End(body);
        await body.FlushAsync(cancellationToken);
    }

    protected override SeriesResponse ToResponse() => SeriesResponse.From(gpuId, result);

    private void Begin(IBufferWriter<byte> body, JavaScriptEncoder? encoder, TimeJson times)
    {
        var output = new JsonBytes(body);
        output.Append("{\"gpu_id\":"u8);
        output.AppendString(gpuId, encoder);
        output.Append(",\"start_time\":"u8);
        output.Append(result.Start is { } start ? times.Json(start) : "null"u8);
        output.Append(",\"end_time\":"u8);
        output.Append(result.End is { } end ? times.Json(end) : "null"u8);
        output.Append(",\"bucket_seconds\":"u8);
        output.Advance(JsonBytes.FormatNumber(result.BucketTicks / (double)TimeSpan.TicksPerSecond, output.Reserve(32)));
        output.Append(",\"series\":["u8);
        output.Commit();
    }

    /// <summary>Synchronous, so the loop's state stays out of the async state machine. Returns the bytes written.</summary>
    private static long WriteSeries(IBufferWriter<byte> body, JavaScriptEncoder? encoder, TimeJson times, NumberJson numbers, MetricSeries series, bool first)
    {
        var output = new JsonBytes(body);
        output.Append(first ? "{\"metric_name\":"u8 : ",{\"metric_name\":"u8);
        output.AppendString(series.MetricName, encoder);
        output.Append(",\"points\":["u8);
        // The builder's points are an array segment; read as a span, not one interface call per point.
        ReadOnlySpan<SeriesPoint> points = series.Points switch
        {
            ArraySegment<SeriesPoint> segment => segment,
            SeriesPoint[] array => array,
            var other => [.. other],
        };
        for (var i = 0; i < points.Length; i++)
        {
            ref readonly var point = ref points[i];
            var bucket = output.Reserve(BucketBytes);
            var at = 0;
            JsonBytes.Copy(i == 0 ? "{\"timestamp\":"u8 : ",{\"timestamp\":"u8, bucket, ref at);
            times.Write(point.Timestamp, bucket, ref at);
            JsonBytes.Copy(",\"min\":"u8, bucket, ref at);
            numbers.Write(point.Min, bucket, ref at);
            JsonBytes.Copy(",\"max\":"u8, bucket, ref at);
            numbers.Write(point.Max, bucket, ref at);
            JsonBytes.Copy(",\"avg\":"u8, bucket, ref at);
            numbers.Write(point.Avg, bucket, ref at);
            JsonBytes.Copy(",\"last\":"u8, bucket, ref at);
            numbers.Write(point.Last, bucket, ref at);
            JsonBytes.Copy(",\"count\":"u8, bucket, ref at);
            // A count is a positive int: its digits straight away, not through the double path numbers take.
            if (!Utf8Formatter.TryFormat((uint)point.Count, bucket[at..], out var digits)) throw new InvalidOperationException("A count did not fit its buffer.");
            at += digits;
            bucket[at++] = (byte)'}';
            output.Advance(at);
        }
        output.Append("]}"u8);
        output.Commit();
        return output.Committed;
    }

    private static void End(IBufferWriter<byte> body)
    {
        var output = new JsonBytes(body);
        output.Append("]}"u8);
        output.Commit();
    }
}
