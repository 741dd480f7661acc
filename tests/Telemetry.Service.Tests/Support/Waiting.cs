using System.Text.Json.Nodes;
using Telemetry.Testing;

namespace Telemetry.Service.Tests.Support;

public static class Waiting
{
    /// <summary>Every GPU the API lists, paging with <paramref name="limit"/>.</summary>
    public static async Task<List<JsonNode>> AllGpusAsync(HttpClient api, int limit = 1000)
    {
        var gpus = new List<JsonNode>();
        for (var offset = 0; ; offset += limit)
        {
            var page = await api.GetJsonAsync($"/api/v1/gpus?limit={limit}&offset={offset}");
            gpus.AddRange(page["gpus"]!.AsArray().Select(g => g!.DeepClone()));
            if (!(bool)page["pagination"]!["has_next"]!) return gpus;
        }
    }

    /// <summary>Samples stored over all GPUs, as the API reports them.</summary>
    public static async Task<int> StoredSamplesAsync(HttpClient api) =>
        (await AllGpusAsync(api)).Sum(g => (int)g["samples"]!);

    /// <summary>Polls until the API reports <paramref name="expected"/> samples (and then checks no more arrive than
    /// expected); fails after <paramref name="timeout"/>.</summary>
    public static async Task WaitForStoredAsync(HttpClient api, int expected, TimeSpan timeout)
    {
        var stored = await Eventually.ValueAsync(() => StoredSamplesAsync(api), count => count >= expected,
            $"{expected} samples stored", timeout, count => $"{count} samples stored");
        Assert.Equal(expected, stored);
    }
}
