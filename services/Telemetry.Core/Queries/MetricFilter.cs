namespace Telemetry.Core.Queries;

/// <summary>
/// Whether a sample's metric is one a query asked for (<c>metric=</c>, repeatable). Decoded samples share one string
/// instance per metric name (<see cref="Windows.MetricNames"/>), so a name met before is recognised by reference among
/// the handful a window holds, and the set is asked once per name instead of hashing the name of every sample: that
/// hashing made a whole-window <c>/series</c> for one metric cost more than the same request for all ten
/// (docs/performance.md, "ninth pass").
/// </summary>
internal sealed class MetricFilter(IReadOnlySet<string> wanted)
{
    // A window holds a few metrics (ten in DCGM's default set); names beyond these are still answered, by the set.
    private const int RememberedNames = 32;
    private readonly string[] _names = new string[RememberedNames];
    private readonly bool[] _wanted = new bool[RememberedNames];
    private int _remembered;

    /// <summary>A filter for <paramref name="metrics"/>, or null when the query asked for every metric.</summary>
    public static MetricFilter? For(IReadOnlySet<string>? metrics) => metrics is { Count: > 0 } ? new MetricFilter(metrics) : null;

    public bool Wants(string metricName)
    {
        for (var i = 0; i < _remembered; i++)
        {
            if (ReferenceEquals(_names[i], metricName)) return _wanted[i];
        }
        var answer = wanted.Contains(metricName);
        if (_remembered < RememberedNames)
        {
            _names[_remembered] = metricName;
            _wanted[_remembered++] = answer;
        }
        return answer;
    }
}
