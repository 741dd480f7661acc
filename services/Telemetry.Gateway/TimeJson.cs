using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Telemetry.Gateway;

/// <summary>Times as the serializer writes them, formatted once per distinct time. Formatting was the dearest part
/// of a point: source times repeat (every metric of one scrape carries the scrape's), so the last one is kept and
/// copied while it repeats; a UTC time (what the store holds) is written from its minute's text, kept while the
/// minute lasts, plus seconds and the fraction without its trailing zeros ("O" less the zeros, as the serializer
/// writes it; GatewayJsonTests holds the bytes equal). Other kinds go through a <see cref="Utf8JsonWriter"/>.</summary>
internal sealed class TimeJson
{
    private readonly byte[] _json = new byte[JsonBytes.PaddedBytes];
    private readonly ArrayBufferWriter<byte> _slow = new(64);
    private Utf8JsonWriter? _writer;
    private int _length;
    private DateTime _last;
    private bool _any;
    private long _minuteStart = long.MinValue;
    private int _minuteLength;

    public ReadOnlySpan<byte> Json(DateTime time) => _json.AsSpan(0, Format(time));

    /// <summary>Writes <paramref name="time"/>'s text at <paramref name="at"/> as one padded block
    /// (<see cref="JsonBytes.CopyPadded"/>): the caller leaves <see cref="JsonBytes.PaddedBytes"/> of room.</summary>
    public void Write(DateTime time, Span<byte> destination, ref int at)
    {
        if (time.Kind != DateTimeKind.Utc)
        {
            JsonBytes.CopyPadded(_json, Format(time), destination, ref at);
            return;
        }
        // A UTC time goes straight to the destination behind its minute's text: formatting it here first and then
        // copying it out made the copy wait for the bytes just stored.
        var within = WithinMinute(time);
        JsonBytes.CopyPadded(_json, _minuteLength, destination, ref at);
        at = WriteSeconds(destination, at, within);
    }

    private int Format(DateTime time)
    {
        // DateTime equality ignores the kind, which the format shows.
        if (_any && time.Ticks == _last.Ticks && time.Kind == _last.Kind) return _length;
        if (time.Kind == DateTimeKind.Utc)
        {
            var within = WithinMinute(time); // first: a new minute changes the minute's length
            _length = WriteSeconds(_json, _minuteLength, within);
        }
        else FormatOther(time);
        (_last, _any) = (time, true);
        return _length;
    }

    /// <summary>"00" to "99" as the two bytes of one little-endian <see cref="ushort"/>, written with one store.</summary>
    private static readonly ushort[] Pairs = [.. Enumerable.Range(0, 100).Select(n => (ushort)('0' + n / 10 | ('0' + n % 10) << 8))];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WritePair(Span<byte> json, int value, int at) => BinaryPrimitives.WriteUInt16LittleEndian(json[at..], Pairs[value]);

    /// <summary>Ticks past the minute's start, with the minute's text ('"yyyy-MM-ddTHH:mm:') at the start of
    /// <see cref="_json"/>: kept while times stay inside it — a subtraction and a compare instead of a division per
    /// time, and what is left fits an int.</summary>
    private int WithinMinute(DateTime time)
    {
        var ticks = time.Ticks;
        if ((ulong)(ticks - _minuteStart) >= TimeSpan.TicksPerMinute)
        {
            _any = false; // the whole text kept for the last time starts with the minute's
            _json[0] = (byte)'"';
            if (!time.TryFormat(_json.AsSpan(1), out var written, "yyyy'-'MM'-'dd'T'HH':'mm':'", CultureInfo.InvariantCulture))
                throw new InvalidOperationException("A time did not fit its buffer.");
            (_minuteStart, _minuteLength) = (ticks - ticks % TimeSpan.TicksPerMinute, written + 1);
        }
        return (int)(ticks - _minuteStart);
    }

    /// <summary>'ss.fffffffZ"' at <paramref name="at"/>, the fraction without its trailing zeros ("O" less the zeros, as
    /// the serializer writes it); returns where the text ends.</summary>
    private static int WriteSeconds(Span<byte> json, int at, int within)
    {
        var seconds = within / (int)TimeSpan.TicksPerSecond;
        var fraction = within - seconds * (int)TimeSpan.TicksPerSecond;
        WritePair(json, seconds, at);
        at += 2;
        if (fraction != 0)
        {
            // Seven digits in pairs (a division per pair instead of one per digit), then the trailing zeros dropped.
            json[at] = (byte)'.';
            var high = fraction / 100_000;
            var rest = fraction - high * 100_000;
            var middle = rest / 1_000;
            rest -= middle * 1_000;
            var low = rest / 10;
            WritePair(json, high, at + 1);
            WritePair(json, middle, at + 3);
            WritePair(json, low, at + 5);
            json[at + 7] = (byte)('0' + (rest - low * 10));
            var digits = 7;
            for (; fraction % 10 == 0; fraction /= 10) digits--;
            at += 1 + digits;
        }
        json[at] = (byte)'Z';
        json[at + 1] = (byte)'"';
        return at + 2;
    }

    private void FormatOther(DateTime time)
    {
        _minuteStart = long.MinValue; // the minute's text is overwritten
        _slow.ResetWrittenCount();
        _writer ??= new Utf8JsonWriter(_slow);
        _writer.Reset();
        _writer.WriteStringValue(time);
        _writer.Flush();
        _slow.WrittenSpan.CopyTo(_json);
        _length = _slow.WrittenCount;
    }
}
