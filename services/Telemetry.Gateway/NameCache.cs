using System.Runtime.InteropServices;
using System.Text.Encodings.Web;

namespace Telemetry.Gateway;

/// <summary>A page holds few distinct metric names, each (since <c>MetricNames</c> in the decoder) as one string
/// instance: each is escaped once and found again by reference; another instance of a known name by value.
/// <para>Lent per thread like <see cref="NumberJson"/>: the escaped names outlive the answer (up to
/// <see cref="MaxNames"/> of them), the by-reference list starts empty for each answer so it only ever holds that
/// answer's names.</para></summary>
internal sealed class NameCache
{
    private const int MaxNames = 1024;
    [ThreadStatic] private static NameCache? t_spare;

    private readonly JavaScriptEncoder? _encoder;
    private readonly List<(string Name, byte[] Quoted)> _byReference = [];
    private readonly Dictionary<string, byte[]> _byValue = new(StringComparer.Ordinal);

    private NameCache(JavaScriptEncoder? encoder) => _encoder = encoder;

    /// <summary>The calling thread's spare cache for <paramref name="encoder"/>, or a new one; give it back with
    /// <see cref="Return"/>.</summary>
    public static NameCache Rent(JavaScriptEncoder? encoder)
    {
        var cache = t_spare is { } spare && ReferenceEquals(spare._encoder, encoder) ? spare : new NameCache(encoder);
        t_spare = null;
        cache._byReference.Clear();
        if (cache._byValue.Count >= MaxNames) cache._byValue.Clear();
        return cache;
    }

    /// <summary>Keeps <paramref name="cache"/> as the spare of the thread that finished with it.</summary>
    public static void Return(NameCache cache) => t_spare = cache;

    public ReadOnlySpan<byte> Quoted(string name)
    {
        foreach (var (known, quoted) in CollectionsMarshal.AsSpan(_byReference))
        {
            if (ReferenceEquals(known, name)) return quoted;
        }
        if (!_byValue.TryGetValue(name, out var bytes)) _byValue[name] = bytes = JsonBytes.Quote(name, _encoder);
        if (_byReference.Count < 64) _byReference.Add((name, bytes));
        return bytes;
    }
}
