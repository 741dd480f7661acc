using System.Buffers;
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

    private static readonly byte[] Pairs = [.. Enumerable.Range(0, 100).SelectMany(n => new[] { (byte)('0' + n / 10), (byte)('0' + n % 10) })];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WritePair(int value, int at)
    {
        _json[at] = Pairs[2 * value];
        _json[at + 1] = Pairs[2 * value + 1];
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
        WritePair(seconds, at);
        at += 2;
        if (fraction != 0)
        {
            // Seven digits in pairs (a division per pair instead of one per digit), then the trailing zeros dropped.
            _json[at++] = (byte)'.';
            var high = fraction / 100_000;
            var rest = fraction - high * 100_000;
            var middle = rest / 1_000;
            rest -= middle * 1_000;
            var low = rest / 10;
            WritePair(high, at);
            WritePair(middle, at + 2);
            WritePair(low, at + 4);
            _json[at + 6] = (byte)('0' + (rest - low * 10));
            var digits = 7;
            while (_json[at + digits - 1] == (byte)'0') digits--;
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
