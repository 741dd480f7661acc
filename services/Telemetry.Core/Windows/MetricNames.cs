using System.Collections.Concurrent;
using System.Text;

namespace Telemetry.Core.Windows;

/// <summary>
/// One string instance per metric name for everything the segment decoder hands out. A fleet has a few dozen metric
/// names, but every decoded segment used to carry its own copies: a whole-window query made hundreds of strings of
/// the same ten names, and the JSON writer, which recognises a name it has already escaped by reference, missed on
/// nearly all of them. Bounded: past <see cref="Capacity"/> names, new ones are decoded as before, uncached.
/// </summary>
internal static class MetricNames
{
    public const int Capacity = 4096;
    private const int MaxStackChars = 256;

    private static readonly ConcurrentDictionary<string, string> Known = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ByChars =
        Known.GetAlternateLookup<ReadOnlySpan<char>>();

    public static string FromUtf8(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxStackChars) return Encoding.UTF8.GetString(utf8);
        Span<char> chars = stackalloc char[MaxStackChars];
        var length = Encoding.UTF8.GetChars(utf8, chars);
        if (ByChars.TryGetValue(chars[..length], out var known)) return known;
        var name = new string(chars[..length]);
        return Known.Count < Capacity ? Known.GetOrAdd(name, name) : name;
    }
}
