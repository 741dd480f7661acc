using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Telemetry.Dashboard.Tests;

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming what was awaited.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition()) return;
            if (clock.Elapsed > timeout) Assert.Fail($"Timed out after {timeout.TotalSeconds:F0} s waiting for {what}.");
            await Task.Delay(50);
        }
    }
}

public static class HttpJson
{
    public static async Task<JsonNode> GetFromJsonNodeAsync(this HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }
}
