using System.Diagnostics;
using System.Globalization;

namespace Telemetry.Benchmarks;

/// <summary>
/// <c>probe URL [PATH] [REQUESTS] [WARMUP_SECONDS]</c>: sequential GETs of one path against a running gateway, each on a
/// GPU picked at random from its list, read the way figures 5 and 8 read answers; prints p50/p90/p99/max and the
/// slowest few. For looking at one query's distribution against a server started by hand with the settings under
/// test (docs/performance.md, "Round two, fourth pass"). <c>{id}</c> in PATH stands for the GPU; several paths
/// separated by <c>|</c> take turns.
/// </summary>
internal static class Probe
{
    public static async Task RunAsync(string[] args)
    {
        var baseUrl = args.Length > 1 ? args[1] : "http://127.0.0.1:8081";
        var path = args.Length > 2 ? args[2] : "/api/v1/gpus/{id}/telemetry?limit=10000";
        var requests = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 480;
        var warmUp = TimeSpan.FromSeconds(args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 10);

        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var uuids = await Figures.GpuUuidsAsync(http);
        if (uuids.Length == 0) throw new InvalidOperationException($"{baseUrl} lists no GPU: nothing to query.");
        var random = new Random(1);
        var buffer = new byte[64 * 1024];
        // Several paths separated by '|' take turns request by request, as figure 8's paths do.
        var paths = path.Split('|');
        string Next(string one) => one.Replace("{id}", uuids[random.Next(uuids.Length)], StringComparison.Ordinal);

        for (var clock = Stopwatch.StartNew(); clock.Elapsed < warmUp;)
        {
            foreach (var one in paths) await Figures.ReadToEndAsync(http, Next(one), buffer);
        }
        var latencies = Array.ConvertAll(paths, _ => new List<double>(requests));
        for (var i = 0; i < requests; i++)
        {
            for (var p = 0; p < paths.Length; p++)
            {
                var clock = Stopwatch.StartNew();
                await Figures.ReadToEndAsync(http, Next(paths[p]), buffer);
                latencies[p].Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        for (var p = 0; p < paths.Length; p++)
        {
            var slowest = latencies[p].Order().TakeLast(6).Select(ms => ms.ToString("0.0", CultureInfo.InvariantCulture));
            Console.WriteLine($"{requests} x {paths[p]} on {uuids.Length} GPUs: p50 {Stats.Percentile(latencies[p], 50):0.00} ms, " +
                $"p90 {Stats.Percentile(latencies[p], 90):0.00}, p99 {Stats.Percentile(latencies[p], 99):0.00}, max {latencies[p].Max():0.00}; " +
                $"slowest {string.Join(", ", slowest)}");
        }
    }
}
