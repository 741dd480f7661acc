using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using Telemetry.Core.Model;

namespace Telemetry.Core.Windows;

/// <summary>
/// The segment format since issue 13: the same columns as <see cref="SegmentDocument"/> (metric names once, times and
/// source times as deltas, a metric index and a value per sample), but as variable-length integers instead of JSON
/// numbers. Parsing JSON numbers was most of a query's decode and a tenth of the pipeline's CPU; these read at a few
/// nanoseconds a sample, and whole values (most GPU metrics) take one to three bytes instead of eight.
/// <para>The bytes are stored base64-encoded inside a JSON string (<c>"..."</c>): the value stays valid JSON for state
/// stores that expect it, and it survives the Dapr .NET SDK's bulk get, which hands values back as UTF-8 decoded
/// strings (<c>DaprClient.GetBulkStateAsync</c> → <c>BulkStateItem.Value</c>, see DaprKeyValueStore.GetManyAsync),
/// where raw bytes would not. A stored value starting with <c>"</c> is this format; with <c>{</c>, the JSON document
/// older versions wrote (still read).</para>
/// <para>Layout: magic <c>0x53 0x01</c>; count N; metric count M and M names (length, UTF-8); then the columns, each N
/// entries: time deltas (zigzag varint, the first from 0), metric index (varint), value (varint of zigzag(v) &lt;&lt; 1
/// for a whole |v| &lt; 2^52, else 1 and the 8 bytes of the double), source time (0 for none, else zigzag(delta from
/// the previous non-null source time) + 1).</para>
/// </summary>
internal static class BinarySegment
{
    public const byte Quote = (byte)'"';
    private const byte Magic = 0x53;
    private const byte Version = 1;
    private const long WholeLimit = 1L << 52;

    // One scratch buffer per thread: encoding then allocates only the stored array.
    [ThreadStatic] private static byte[]? t_scratch;

    public static byte[] Encode(ReadOnlySpan<MetricSample> samples)
    {
        var names = new List<string>(16);
        Dictionary<string, int>? many = null;
        var ids = samples.Length <= 4096 ? stackalloc int[samples.Length] : new int[samples.Length];
        var nameBytes = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var before = names.Count;
            ids[i] = MetricId(samples[i].MetricName, names, ref many);
            if (names.Count != before) nameBytes += Encoding.UTF8.GetMaxByteCount(samples[i].MetricName.Length) + 5;
        }

        // Worst case per sample: 10 (time) + 5 (index) + 9 (value) + 10 (source) bytes.
        var capacity = 2 + 5 + 5 + nameBytes + samples.Length * 34;
        var scratch = t_scratch;
        if (scratch is null || scratch.Length < capacity) t_scratch = scratch = new byte[Math.Max(capacity, 64 * 1024)];
        var span = scratch.AsSpan();
        var at = 0;
        span[at++] = Magic;
        span[at++] = Version;
        WriteVarint(span, ref at, (ulong)samples.Length);
        WriteVarint(span, ref at, (ulong)names.Count);
        foreach (var name in names)
        {
            var length = Encoding.UTF8.GetBytes(name, span[(at + 5)..]);
            var lengthAt = at;
            WriteVarint(span, ref at, (ulong)length);
            // The length took fewer than the 5 bytes reserved: move the name down behind it.
            if (at != lengthAt + 5) span.Slice(lengthAt + 5, length).CopyTo(span[at..]);
            at += length;
        }

        long previous = 0;
        foreach (var sample in samples)
        {
            WriteVarint(span, ref at, ZigZag(sample.Timestamp.Ticks - previous));
            previous = sample.Timestamp.Ticks;
        }
        foreach (var id in ids) WriteVarint(span, ref at, (uint)id);
        foreach (var sample in samples) WriteValue(span, ref at, sample.Value);
        previous = 0;
        foreach (var sample in samples)
        {
            if (sample.SourceTimestamp is { } source)
            {
                WriteVarint(span, ref at, ZigZag(source.Ticks - previous) + 1);
                previous = source.Ticks;
            }
            else
            {
                span[at++] = 0;
            }
        }

        var stored = new byte[Base64.GetMaxEncodedToUtf8Length(at) + 2];
        stored[0] = Quote;
        Base64.EncodeToUtf8(span[..at], stored.AsSpan(1), out _, out var written);
        stored[written + 1] = Quote;
        return stored;
    }

    /// <summary>As <see cref="WindowCodec.DecodeSegment"/>: the samples from <paramref name="skip"/> on whose times lie
    /// in [<paramref name="from"/>, <paramref name="to"/>]. The columns before that range are stepped over, not
    /// materialised.</summary>
    public static MetricSample[] Decode(byte[] stored, int skip, long from, long to) =>
        Decode(stored, skip, from, to, rent: false).Array!;

    /// <summary>The whole segment into an array rented from <see cref="ArrayPool{T}.Shared"/> (longer than the count
    /// it holds): the caller returns it when done with the samples.</summary>
    public static ArraySegment<MetricSample> DecodeRented(byte[] stored) => Decode(stored, 0, long.MinValue, long.MaxValue, rent: true);

    private static ArraySegment<MetricSample> Decode(byte[] stored, int skip, long from, long to, bool rent)
    {
        if (stored.Length < 2 || stored[^1] != Quote) throw new InvalidDataException("A window segment string is not terminated.");
        var text = stored.AsSpan(1, stored.Length - 2);
        var rented = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(text.Length));
        try
        {
            if (Base64.DecodeFromUtf8(text, rented, out _, out var length) != OperationStatus.Done)
                throw new InvalidDataException("A window segment string is not base64.");
            return Parse(rented.AsSpan(0, length), skip, from, to, rent);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static ArraySegment<MetricSample> Parse(ReadOnlySpan<byte> span, int skip, long from, long to, bool rent)
    {
        if (span.Length < 2 || span[0] != Magic) throw new InvalidDataException("A window segment has no known format marker.");
        if (span[1] != Version) throw new InvalidDataException($"A window segment has format version {span[1]}; this version reads {Version}.");
        var at = 2;
        var count = checked((int)ReadVarint(span, ref at));
        var metricCount = checked((int)ReadVarint(span, ref at));
        if (count > span.Length || metricCount > span.Length) throw new InvalidDataException("A window segment's counts exceed its length.");
        var metrics = new string[metricCount];
        for (var m = 0; m < metricCount; m++)
        {
            var length = checked((int)ReadVarint(span, ref at));
            if ((uint)(at + length) > (uint)span.Length) throw new InvalidDataException("Truncated window segment.");
            metrics[m] = MetricNames.FromUtf8(span.Slice(at, length));
            at += length;
        }

        // Times: all of them, to find the range.
        var times = count <= 2048 ? stackalloc long[count] : new long[count];
        long time = 0;
        for (var i = 0; i < count; i++) times[i] = time += UnZigZag(ReadVarint(span, ref at));
        var first = Math.Min(skip, count);
        while (first < count && times[first] < from) first++;
        var end = first;
        while (end < count && times[end] <= to) end++;

        var samples = rent ? ArrayPool<MetricSample>.Shared.Rent(end - first) : new MetricSample[end - first];
        var index = end - first <= 2048 ? stackalloc int[end - first] : new int[end - first];
        for (var i = 0; i < count; i++)
        {
            var id = ReadVarint(span, ref at);
            if (id >= (ulong)metricCount) throw new InvalidDataException($"A window segment names metric {id} of {metricCount}.");
            if (i >= first && i < end) index[i - first] = (int)id;
        }
        var values = end - first <= 2048 ? stackalloc double[end - first] : new double[end - first];
        for (var i = 0; i < count; i++)
        {
            var value = ReadValue(span, ref at);
            if (i >= first && i < end) values[i - first] = value;
        }
        long source = 0;
        for (var i = 0; i < count && i < end; i++)
        {
            var delta = ReadVarint(span, ref at);
            DateTime? sourceTime = null;
            if (delta != 0)
            {
                source += UnZigZag(delta - 1);
                sourceTime = new DateTime(source, DateTimeKind.Utc);
            }
            if (i >= first) samples[i - first] = new MetricSample(new DateTime(times[i], DateTimeKind.Utc), metrics[index[i - first]], values[i - first], sourceTime);
        }
        return new ArraySegment<MetricSample>(samples, 0, end - first);
    }

    private static int MetricId(string name, List<string> names, ref Dictionary<string, int>? many)
    {
        if (many is not null)
        {
            if (many.TryGetValue(name, out var known)) return known;
        }
        else
        {
            // A segment rarely holds more than a dozen names, and they come from the readers' caches: reference
            // equality first, then a linear scan, beat hashing.
            for (var i = 0; i < names.Count; i++)
            {
                if (ReferenceEquals(names[i], name)) return i;
            }
            for (var i = 0; i < names.Count; i++)
            {
                if (string.Equals(names[i], name, StringComparison.Ordinal)) return i;
            }
        }
        var id = names.Count;
        names.Add(name);
        if (many is null && names.Count > 32)
        {
            many = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < names.Count; i++) many[names[i]] = i;
        }
        else many?.Add(name, id);
        return id;
    }

    private static void WriteValue(Span<byte> span, ref int at, double value)
    {
        // -0 and NaN fail the equality or the range test, so they keep their exact bits.
        if (value == Math.Truncate(value) && Math.Abs(value) < WholeLimit && !(value == 0 && double.IsNegative(value)))
        {
            WriteVarint(span, ref at, ZigZag((long)value) << 1);
            return;
        }
        span[at++] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], BitConverter.DoubleToInt64Bits(value));
        at += 8;
    }

    private static double ReadValue(ReadOnlySpan<byte> span, ref int at)
    {
        var tag = ReadVarint(span, ref at);
        if ((tag & 1) == 0) return UnZigZag(tag >> 1);
        if (tag != 1 || at + 8 > span.Length) throw new InvalidDataException("A window segment value is malformed.");
        var bits = BinaryPrimitives.ReadInt64LittleEndian(span[at..]);
        at += 8;
        return BitConverter.Int64BitsToDouble(bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteVarint(Span<byte> span, ref int at, ulong value)
    {
        while (value >= 0x80)
        {
            span[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[at++] = (byte)value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if ((uint)at >= (uint)span.Length) throw new InvalidDataException("Truncated window segment.");
            var b = span[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("A window segment holds an over-long number.");
    }
}
