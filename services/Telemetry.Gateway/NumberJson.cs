namespace Telemetry.Gateway;

/// <summary>Numbers as <see cref="JsonBytes.FormatNumber"/> writes them, each formatted once while it stays in a
/// small table keyed by its bits. GPU metrics repeat: clocks, memory and an idle GPU's zeros stay put from sample to
/// sample, and a bucket's min, max, average and last are often one value. Formatting a fractional double the shortest
/// round-trip way was the dearest step of a <c>/series</c> answer by profile, and a tenth of a raw page's.</summary>
internal sealed class NumberJson
{
    private const int Slots = 64;
    private const int SlotBytes = 32; // the longest double text, "-1.2345678901234567E-308", is 24 bytes
    private readonly long[] _bits = new long[Slots];
    private readonly byte[] _lengths = new byte[Slots];
    private readonly byte[] _text = new byte[Slots * SlotBytes];

    public ReadOnlySpan<byte> Json(double value)
    {
        var bits = BitConverter.DoubleToInt64Bits(value);
        var slot = (int)((ulong)bits * 0x9E3779B97F4A7C15UL >> 58); // Fibonacci hashing: the top 6 bits
        var text = _text.AsSpan(slot * SlotBytes, SlotBytes);
        if (_lengths[slot] != 0 && _bits[slot] == bits) return text[.._lengths[slot]];
        var length = JsonBytes.FormatNumber(value, text);
        (_bits[slot], _lengths[slot]) = (bits, (byte)length);
        return text[..length];
    }
}
