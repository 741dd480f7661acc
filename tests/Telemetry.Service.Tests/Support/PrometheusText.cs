using System.Globalization;

namespace Telemetry.Service.Tests.Support;

/// <summary>Reads sample values out of the Prometheus text exposition format.</summary>
public static class PrometheusText
{
    /// <summary>The sum of every series of <paramref name="metric"/> (all label sets), or null when absent.</summary>
    public static double? Sum(string exposition, string metric, string? labelFilter = null)
    {
        double? total = null;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(metric, StringComparison.Ordinal)) continue;
            var rest = line[metric.Length..];
            if (rest.Length == 0 || (rest[0] != ' ' && rest[0] != '{')) continue;
            if (labelFilter is not null && !rest.Contains(labelFilter, StringComparison.Ordinal)) continue;
            var value = double.Parse(rest[(rest.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            total = (total ?? 0) + value;
        }
        return total;
    }

    public static async Task<string> ScrapeAsync(HttpClient metricsClient)
    {
        using var response = await metricsClient.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }
}
