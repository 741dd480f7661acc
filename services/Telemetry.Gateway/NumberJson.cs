namespace Telemetry.Gateway;

/// <summary>Numbers as <see cref="JsonBytes.FormatNumber"/> writes them, each formatted once while it stays in a
/// small table keyed by its bits. GPU metrics repeat: clocks, memory and an idle GPU's zeros stay put from sample to
/// sample, and a bucket's min, max, average and last are often one value. Formatting a fractional double the shortest
/// round-trip way was the dearest step of a <c>/series</c> answer by profile, and a tenth of a raw page's.</summary>
internal sealed class NumberJson
{
    // One table per thread, lent to an answer while it is written: a table per answer was 2.6 kB of every request's
    // ~33 kB of garbage (docs/performance.md, "fifth pass"). What an earlier answer left in it is still right.
    [ThreadStatic] private static NumberJson? t_spare;

    /// <summary>The calling thread's spare table, or a new one; give it back with <see cref="Return"/>.</summary>
    public static NumberJson Rent()
    {
        var table = t_spare ?? new NumberJson();
        t_spare = null;
        return table;
    }

    /// <summary>Keeps <paramref name="table"/> as the spare of the thread that finished with it.</summary>
    public static void Return(NumberJson table) => t_spare = table;

    private const int Slots = 64;
    // The longest double text, "-1.2345678901234567E-308", is 24 bytes; a slot is as long as a padded copy.
    private const int SlotBytes = JsonBytes.PaddedBytes;
    private readonly long[] _bits = new long[Slots];
    private readonly byte[] _lengths = new byte[Slots];
    private readonly byte[] _text = new byte[Slots * SlotBytes];

    public ReadOnlySpan<byte> Json(double value) => _text.AsSpan(Slot(value, out var length) * SlotBytes, length);

    /// <summary>Writes <paramref name="value"/>'s text at <paramref name="at"/> as one padded block
    /// (<see cref="JsonBytes.CopyPadded"/>): the caller leaves <see cref="JsonBytes.PaddedBytes"/> of room.</summary>
    public void Write(double value, Span<byte> destination, ref int at)
    {
        var slot = Slot(value, out var length);
        JsonBytes.CopyPadded(_text.AsSpan(slot * SlotBytes, SlotBytes), length, destination, ref at);
    }

    private int Slot(double value, out int length)
    {
        var bits = BitConverter.DoubleToInt64Bits(value);
        var slot = (int)((ulong)bits * 0x9E3779B97F4A7C15UL >> 58); // Fibonacci hashing: the top 6 bits
        var text = _text.AsSpan(slot * SlotBytes, SlotBytes);
        if (_lengths[slot] != 0 && _bits[slot] == bits)
        {
            length = _lengths[slot];
            return slot;
        }
        length = JsonBytes.FormatNumber(value, text);
        (_bits[slot], _lengths[slot]) = (bits, (byte)length);
        return slot;
    }
}
