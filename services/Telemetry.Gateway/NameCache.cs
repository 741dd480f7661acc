using System.Runtime.InteropServices;
using System.Text.Encodings.Web;

namespace Telemetry.Gateway;

/// <summary>A page holds few distinct metric names, each (since <c>MetricNames</c> in the decoder) as one string
/// instance: each is escaped once and found again by reference; another instance of a known name by value.</summary>
internal sealed class NameCache(JavaScriptEncoder? encoder)
{
    private readonly List<(string Name, byte[] Quoted)> _byReference = [];
    private readonly Dictionary<string, byte[]> _byValue = new(StringComparer.Ordinal);

    public ReadOnlySpan<byte> Quoted(string name)
    {
        foreach (var (known, quoted) in CollectionsMarshal.AsSpan(_byReference))
        {
            if (ReferenceEquals(known, name)) return quoted;
        }
        if (!_byValue.TryGetValue(name, out var bytes)) _byValue[name] = bytes = JsonBytes.Quote(name, encoder);
        if (_byReference.Count < 64) _byReference.Add((name, bytes));
        return bytes;
    }
}
