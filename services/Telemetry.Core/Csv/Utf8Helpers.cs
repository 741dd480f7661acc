using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Telemetry.Core.Csv;

/// <summary>Compares byte-array keys by content and lets a dictionary be probed with a span, so a cache hit
/// costs a hash of the field bytes and no allocation.</summary>
internal sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteKeyComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
    public int GetHashCode(byte[] key) => GetHashCode((ReadOnlySpan<byte>)key);
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    /// <summary>Samples 8 bytes at the start, middle and end instead of hashing every byte: keys here are
    /// uuids, metric and host names that differ in their tails, and a rare collision only costs one
    /// (vectorised) equality check. Hashing whole ~100-byte keys was a measurable share of a line's cost.</summary>
    public int GetHashCode(ReadOnlySpan<byte> key)
    {
        if (key.Length < 8)
        {
            ulong small = 0;
            foreach (var b in key) small = (small << 8) | b;
            return HashCode.Combine(small, key.Length);
        }
        var start = MemoryMarshal.Read<ulong>(key);
        var middle = MemoryMarshal.Read<ulong>(key[((key.Length - 8) / 2)..]);
        var end = MemoryMarshal.Read<ulong>(key[^8..]);
        return HashCode.Combine(start, middle, end, key.Length);
    }
}

/// <summary>Values (GPU identities, metric names) looked up by the UTF-8 bytes that produced them.</summary>
internal sealed class Utf8Cache<T>
{
    // A file of garbage with a new key on every line must not grow the cache without bound.
    private const int MaxEntries = 100_000;
    private readonly Dictionary<byte[], T> _map = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], T>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public Utf8Cache() => _lookup = _map.GetAlternateLookup<ReadOnlySpan<byte>>();

    public bool TryGet(ReadOnlySpan<byte> key, [MaybeNullWhen(false)] out T value) => _lookup.TryGetValue(key, out value);

    public void Add(ReadOnlySpan<byte> key, T value)
    {
        if (_map.Count >= MaxEntries) _map.Clear();
        _lookup[key] = value;
    }
}

/// <summary>Joins several field spans into one reusable key buffer (0x1F, the ASCII unit separator, between them).</summary>
internal sealed class KeyBuilder
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public KeyBuilder Reset()
    {
        _length = 0;
        return this;
    }

    public KeyBuilder Add(ReadOnlySpan<byte> part)
    {
        var needed = _length + part.Length + 1;
        if (needed > _buffer.Length) Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        part.CopyTo(_buffer.AsSpan(_length));
        _length += part.Length;
        _buffer[_length++] = 0x1F;
        return this;
    }

    public ReadOnlySpan<byte> Key => _buffer.AsSpan(0, _length);
}

/// <summary>Remembers the last text seen in a column and what it was parsed to: exporters write the same
/// instant (and, grouped by metric, the same name) on many lines in a row, so most lines skip the parse or the
/// dictionary lookup.</summary>
internal sealed class LastSeen<T>
{
    private readonly byte[] _text = new byte[64];
    private int _length = -1;
    private T? _value;

    public bool TryGet(ReadOnlySpan<byte> text, [MaybeNullWhen(false)] out T value)
    {
        value = _value;
        return text.Length == _length && text.SequenceEqual(_text.AsSpan(0, _length));
    }

    public void Set(ReadOnlySpan<byte> text, T value)
    {
        if (text.Length > _text.Length) return;
        text.CopyTo(_text);
        _length = text.Length;
        _value = value;
    }
}

internal static class Utf8Fields
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> span) => span.Trim(" \t"u8);

    /// <summary>A finite number in invariant culture ("1.5", "-2e3"); NaN and infinities are refused because
    /// they would poison every aggregate built on the value.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> text, out double value)
    {
        // Most telemetry values are small non-negative integers ("0", "100", "1593"): a digit loop is several
        // times cheaper than the general parser and gives the identical double.
        if (text.Length is > 0 and <= 15)
        {
            long whole = 0;
            var i = 0;
            for (; i < text.Length; i++)
            {
                var digit = (uint)(text[i] - '0');
                if (digit > 9) break;
                whole = whole * 10 + digit;
            }
            if (i == text.Length)
            {
                value = whole;
                return true;
            }
        }
        return double.TryParse(text, NumberStyles.Float, Invariant, out value) && double.IsFinite(value);
    }

    /// <summary>A GPU index: plain digits only.</summary>
    public static bool TryParseIndex(ReadOnlySpan<byte> text, out int value) =>
        int.TryParse(text, NumberStyles.None, Invariant, out value);

    /// <summary>Parses UTF-8 text as a date with one of <paramref name="formats"/>; no offset means UTC.
    /// The result has <see cref="DateTimeKind.Utc"/>.</summary>
    public static bool TryParseUtc(ReadOnlySpan<byte> text, string[] formats, out DateTime value)
    {
        value = default;
        if (text.IsEmpty || text.Length > 64) return false;
        Span<char> chars = stackalloc char[64];
        var count = Encoding.UTF8.GetChars(text, chars);
        if (!DateTimeOffset.TryParseExact(chars[..count], formats, Invariant, DateTimeStyles.AssumeUniversal, out var parsed))
            return false;
        value = parsed.UtcDateTime;
        return true;
    }

    /// <summary>A field value quoted for an error message, cut short so one bad line cannot flood a log.</summary>
    public static string Describe(ReadOnlySpan<byte> text)
    {
        const int max = 40;
        var shown = Encoding.UTF8.GetString(text.Length > max ? text[..max] : text);
        return text.Length > max ? $"'{shown}...'" : $"'{shown}'";
    }
}
