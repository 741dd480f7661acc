using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Telemetry.Imports.Tests;

/// <summary>The reference file through the embedded host in replay mode, read back by its own time range.</summary>
public class EmbeddedImportEndToEndTests : IClassFixture<EmbeddedImportEndToEndTests.Host>
{
    public sealed class Host : EmbeddedHostFactory;

    private const string Gpu = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
    // The file's rows carry four source seconds, 20:42:34 to 20:42:37; this GPU has 10 metrics among them.
    private const string Range = "start_time=2025-07-18T20:42:34Z&end_time=2025-07-18T20:42:37Z";
    private const string FirstSecond = "start_time=2025-07-18T20:42:34Z&end_time=2025-07-18T20:42:34Z";
    private readonly HttpClient _client;

    public EmbeddedImportEndToEndTests(Host host) => _client = host.CreateClient();

    private async Task<JsonObject> ImportReferenceAsync()
    {
        var content = new StreamContent(File.OpenRead(Csv.ReferenceFile));
        content.Headers.ContentType = new("text/csv");
        var response = await _client.PostAsync("/api/v1/imports?mode=replay", content);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await ImportApiTests.WaitForFinalAsync(_client, response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task The_reference_file_is_queryable_by_its_original_time_and_a_second_import_stores_nothing_twice()
    {
        var first = await ImportReferenceAsync();
        Assert.Equal("completed", (string)first["status"]!);
        Assert.Equal(2470, (long)first["rows_read"]!);
        Assert.Equal(2470, (long)first["samples_published"]!);
        Assert.Equal(0, (long)first["rows_rejected"]!);

        var telemetry = (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry?{Range}"))!;
        var data = telemetry["data"]!.AsArray();
        Assert.Equal(10, data.Count);
        Assert.Equal(10, data.Select(point => (string)point!["metric_name"]!).Distinct().Count());
        // Replayed samples keep the file's time: exactly the rows of that second come back for it.
        Assert.All(data, point => Assert.Equal((DateTime)point!["source_timestamp"]!, (DateTime)point["timestamp"]!));
        var firstSecond = (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry?{FirstSecond}"))!["data"]!.AsArray();
        var expected = File.ReadLines(Csv.ReferenceFile).Count(line => line.StartsWith("\"2025-07-18T20:42:34Z\"") && line.Contains(Gpu));
        Assert.Equal(expected, firstSecond.Count);
        Assert.True(expected is > 0 and < 10);
        var gpus = (await _client.GetFromJsonAsync<JsonObject>("/api/v1/gpus?limit=1"))!;
        Assert.Equal(247, (int)gpus["total"]!);

        var second = await ImportReferenceAsync();
        Assert.Equal("completed", (string)second["status"]!);
        Assert.Equal(2470, (long)second["samples_published"]!);

        var again = (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}/telemetry?{Range}"))!;
        Assert.Equal(10, again["data"]!.AsArray().Count);
        var gpu = (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/gpus/{Gpu}"))!;
        Assert.Equal(10, (int)gpu["samples"]!);
        Assert.Equal(247, (int)(await _client.GetFromJsonAsync<JsonObject>("/api/v1/gpus?limit=1"))!["total"]!);
    }
}
