using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Telemetry.Gateway;

/// <summary>The response body as spans of the pipe's own memory, handed back in pieces of at least
/// <see cref="BufferSizeHint"/> bytes instead of one write per token.</summary>
internal ref struct JsonBytes(IBufferWriter<byte> body)
{
    private const int BufferSizeHint = 16 * 1024;

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

    /// <summary>The bytes handed to the body so far.</summary>
    public long Committed { get; private set; }

    public void Commit()
    {
        if (_used == 0) return;
        body.Advance(_used);
        Committed += _used;
        _buffer = default;
        _used = 0;
    }

    public static void Copy(ReadOnlySpan<byte> bytes, Span<byte> destination, ref int at)
    {
        bytes.CopyTo(destination[at..]);
        at += bytes.Length;
    }

    /// <summary>What <see cref="CopyPadded"/> copies whatever the text's length.</summary>
    public const int PaddedBytes = 64;

    /// <summary>Copies the first <paramref name="length"/> bytes of <paramref name="padded"/> to
    /// <paramref name="destination"/> at <paramref name="at"/> as one block of <see cref="PaddedBytes"/>: the JIT makes a
    /// constant-size copy a few vector moves, where a copy of a short text's exact length is a call to memmove — a fifth
    /// of writing a page of points (PROFILE_ONLY=write). The bytes past the text are garbage the next write covers, so
    /// the caller reserves <see cref="PaddedBytes"/> of room; without it (or with a short source) the copy is exact.</summary>
    public static void CopyPadded(ReadOnlySpan<byte> padded, int length, Span<byte> destination, ref int at)
    {
        if ((uint)length > (uint)padded.Length) throw new ArgumentOutOfRangeException(nameof(length));
        if (length <= PaddedBytes && padded.Length >= PaddedBytes && destination.Length - at >= PaddedBytes)
            Unsafe.CopyBlockUnaligned(ref destination[at], ref MemoryMarshal.GetReference(padded), PaddedBytes);
        else padded[..length].CopyTo(destination[at..]);
        at += length;
    }

    /// <summary>As the serializer writes a double: the shortest text that reads back as the same value, and an
    /// <see cref="ArgumentException"/> for values JSON cannot hold. Whole values below 10^15 have the same text as
    /// the integer, which is a fraction of the cost to format; most GPU metrics (utilisation, clocks, memory,
    /// temperature) are whole.</summary>
    public static int FormatNumber(double value, Span<byte> destination)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{value} cannot be written as a JSON number.", nameof(value));
        int written;
        var formatted = Math.Abs(value) < 1e15 && value == Math.Truncate(value) && !(value == 0 && double.IsNegative(value))
            ? Utf8Formatter.TryFormat((long)value, destination, out written)
            : value.TryFormat(destination, out written, default, CultureInfo.InvariantCulture);
        return formatted ? written : throw new InvalidOperationException("A number did not fit its buffer.");
    }

    /// <summary>A JSON string as the serializer writes it with <paramref name="encoder"/> (null: the default one).</summary>
    public static byte[] Quote(string text, JavaScriptEncoder? encoder)
    {
        var escaped = JsonEncodedText.Encode(text, encoder).EncodedUtf8Bytes;
        var quoted = new byte[escaped.Length + 2];
        quoted[0] = quoted[^1] = (byte)'"';
        escaped.CopyTo(quoted.AsSpan(1));
        return quoted;
    }
}
