using System.Diagnostics.Metrics;
using Prometheus;

namespace Telemetry.Hosting.Observability;

/// <summary>
/// Publishes the runtime's own .NET meters on the Prometheus <c>/metrics</c> endpoint through prometheus-net's
/// meter adapter, so there is one metrics stack. prometheus-net 8 would otherwise start its default adapters at the
/// first scrape (<c>Metrics</c> static constructor: <c>SuppressDefaultMetrics(SuppressNone)</c> registers a
/// before-first-collect callback): every meter in the process plus the older EventCounters, which repeat the same
/// runtime figures under a second set of names and add dozens of empty internal series (msquic's, for one). Here
/// the EventCounter adapter stays off and the meter adapter starts with the host, before any request, for the
/// meters below only. A series is named <c>{meter}_{instrument}</c> in Prometheus form, e.g.
/// <c>microsoft_aspnetcore_server_kestrel_kestrel_active_connections</c> or <c>system_runtime_dotnet_gc_collections</c>.
/// </summary>
public static class RuntimeMeters
{
    /// <summary>ASP.NET Core (requests, Kestrel connections, routing, unhandled exceptions), HttpClient (the sidecar
    /// calls in Dapr mode) and the runtime (GC, JIT, thread pool, CPU, memory).</summary>
    public static readonly IReadOnlySet<string> Meters = new HashSet<string>(StringComparer.Ordinal)
    {
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "System.Net.Http",
        "System.Net.NameResolution",
        "System.Runtime",
    };

    // prometheus-net's registry is process-wide, so the adapter is too: started once, however many hosts a process
    // builds (the tests build many), and never stopped.
    private static readonly Lazy<IDisposable> Adapter = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Starts publishing (once per process). Must run before the first scrape, which is when
    /// prometheus-net would apply its own defaults.</summary>
    public static void Publish() => _ = Adapter.Value;

    private static IDisposable Start()
    {
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
        {
            SuppressProcessMetrics = false,
            SuppressDebugMetrics = false,
            SuppressEventCounters = true,
            SuppressMeters = true,
        });
        return MeterAdapter.StartListening(new MeterAdapterOptions
        {
            InstrumentFilterPredicate = instrument => Meters.Contains(instrument.Meter.Name),
            ResolveHistogramBuckets = BucketsOf,
        });
    }

    /// <summary>The buckets the instrument itself advises (ASP.NET Core's and HttpClient's durations do: 5 ms to
    /// 10 s); prometheus-net's default starts at 10 ms, above most of these requests.</summary>
    private static double[] BucketsOf(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds } => [.. bounds],
        Histogram<long> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds } => [.. bounds.Select(bound => (double)bound)],
        _ => MeterAdapterOptions.DefaultHistogramBuckets,
    };
}
