using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Telemetry.Testing;

namespace Telemetry.Imports.Tests;

/// <summary>Every answer of /api/v1/imports, through the embedded host.</summary>
public class ImportApiTests : IClassFixture<EmbeddedHostFactory>
{
    private readonly HttpClient _client;

    public ImportApiTests(EmbeddedHostFactory factory) => _client = factory.CreateClient();

    private static StringContent CsvBody(string csv) => new(csv, Encoding.UTF8, "text/csv");

    private static MultipartFormDataContent Multipart(string csv, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "night.csv");
        return form;
    }

    internal static Task<JsonObject> WaitForFinalAsync(HttpClient client, string location) =>
        Eventually.ValueAsync(async () => (await client.GetFromJsonAsync<JsonObject>(location))!,
            status => ImportStatus.IsFinal((string)status["status"]!), $"{location} to finish",
            describe: status => $"status {status["status"]}");

    [Fact]
    public async Task A_text_csv_upload_is_accepted_with_202_and_a_location_and_then_completes()
    {
        var response = await _client.PostAsync("/api/v1/imports", CsvBody(Csv.Dcgm(9, "2025-01-02T03:04:05Z")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = (string)body["id"]!;
        Assert.Equal($"/api/v1/imports/{id}", response.Headers.Location!.ToString());
        Assert.Equal("replay", (string)body["mode"]!);
        Assert.Equal("dcgm", (string)body["format"]!);

        var done = await WaitForFinalAsync(_client, response.Headers.Location.ToString());
        Assert.Equal("completed", (string)done["status"]!);
        Assert.Equal(9, (long)done["rows_read"]!);
        Assert.Equal(9, (long)done["samples_published"]!);
        Assert.Equal(0, (long)done["rows_rejected"]!);
        Assert.NotNull(done["started_at"]);
        Assert.NotNull(done["finished_at"]);
    }

    [Fact]
    public async Task A_multipart_upload_takes_its_options_from_form_fields()
    {
        var csv = await File.ReadAllTextAsync(Csv.Fixture("nvidia_smi.csv"));
        var response = await _client.PostAsync("/api/v1/imports", Multipart(csv, ("mode", "stream"), ("hostname", "night-box")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("stream", (string)body["mode"]!);
        Assert.Equal("nvidia-smi", (string)body["format"]!);
        Assert.Equal("night-box", (string)body["hostname"]!);
        Assert.Equal("night.csv", (string)body["file_name"]!);
        var done = await WaitForFinalAsync(_client, response.Headers.Location!.ToString());
        Assert.Equal("completed", (string)done["status"]!);
        Assert.Equal(3, (long)done["rows_read"]!);

        var hosts = await _client.GetFromJsonAsync<JsonObject>("/api/v1/hosts/night-box/gpus");
        Assert.Equal(2, (int)hosts!["total"]!);
    }

    [Fact]
    public async Task Rejected_rows_are_listed_with_their_line_numbers()
    {
        var lines = Csv.Dcgm(5, "2025-01-03T00:00:00Z").Split('\n');
        lines[3] = "\"2025-01-03T00:00:00Z\",\"M\",\"0\",\"nvidia0\",\"GPU-x\",\"H100\",\"h\",\"\",\"\",\"\",\"oops\",\"\"";
        var response = await _client.PostAsync("/api/v1/imports", CsvBody(string.Join('\n', lines)));
        var done = await WaitForFinalAsync(_client, response.Headers.Location!.ToString());
        Assert.Equal(1, (long)done["rows_rejected"]!);
        var rejection = done["rejections"]!.AsArray().Single()!;
        Assert.Equal(4, (long)rejection["line"]!);
        Assert.Contains("value", (string)rejection["reason"]!);
    }

    [Fact]
    public async Task An_unrecognised_header_is_400_with_the_problem_on_line_1()
    {
        var response = await _client.PostAsync("/api/v1/imports", CsvBody("name,colour\nx,red\n"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(400, (int)body["status"]!);
        Assert.Equal(1, (long)body["problems"]![0]!["line"]!);
        Assert.Contains("header", (string)body["problems"]![0]!["reason"]!);
    }

    [Fact]
    public async Task An_unknown_mode_is_400()
    {
        var response = await _client.PostAsync("/api/v1/imports?mode=fast", CsvBody(Csv.Dcgm(1)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Another_content_type_is_415()
    {
        var response = await _client.PostAsync("/api/v1/imports", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var none = await _client.PostAsync("/api/v1/imports", new ByteArrayContent([1, 2, 3]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, none.StatusCode);
    }

    [Fact]
    public async Task An_unknown_import_is_404_for_get_and_delete()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/api/v1/imports/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.DeleteAsync("/api/v1/imports/nope")).StatusCode);
    }

    [Fact]
    public async Task Deleting_a_finished_import_is_409()
    {
        var response = await _client.PostAsync("/api/v1/imports", CsvBody(Csv.Dcgm(2, "2025-01-04T00:00:00Z")));
        var location = response.Headers.Location!.ToString();
        await WaitForFinalAsync(_client, location);
        var delete = await _client.DeleteAsync(location);
        Assert.Equal(HttpStatusCode.Conflict, delete.StatusCode);
    }

    [Fact]
    public async Task The_list_shows_recent_imports_newest_first()
    {
        var first = await _client.PostAsync("/api/v1/imports", CsvBody(Csv.Dcgm(1, "2025-01-05T00:00:00Z")));
        var second = await _client.PostAsync("/api/v1/imports", CsvBody(Csv.Dcgm(1, "2025-01-05T00:00:01Z")));
        var list = (await _client.GetFromJsonAsync<JsonObject>("/api/v1/imports?limit=1000"))!;
        var ids = list["imports"]!.AsArray().Select(i => (string)i!["id"]!).ToList();
        var a = ids.IndexOf(((string)(await first.Content.ReadFromJsonAsync<JsonObject>())!["id"]!));
        var b = ids.IndexOf(((string)(await second.Content.ReadFromJsonAsync<JsonObject>())!["id"]!));
        Assert.True(b >= 0 && a > b);
        Assert.True((int)list["total"]! >= 2);
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.GetAsync("/api/v1/imports?limit=0")).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_import_endpoints()
    {
        var document = await _client.GetStringAsync("/openapi/v1.json");
        using var json = JsonDocument.Parse(document);
        var paths = json.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/v1/imports", out _));
        Assert.True(paths.TryGetProperty("/api/v1/imports/{id}", out _));
    }
}

/// <summary>The size limit, with its own host so the limit can be small.</summary>
public class ImportSizeLimitTests : IClassFixture<ImportSizeLimitTests.SmallLimitFactory>
{
    public sealed class SmallLimitFactory() : EmbeddedHostFactory(2048);

    private readonly HttpClient _client;

    public ImportSizeLimitTests(SmallLimitFactory factory) => _client = factory.CreateClient();

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var csv = Csv.Dcgm(40);
        Assert.True(csv.Length > 2048);
        var response = await _client.PostAsync("/api/v1/imports", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task A_multipart_file_over_the_limit_is_413_and_nothing_is_recorded()
    {
        var form = new MultipartFormDataContent { { new ByteArrayContent(Encoding.UTF8.GetBytes(Csv.Dcgm(40))), "file", "big.csv" } };
        var response = await _client.PostAsync("/api/v1/imports", form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var list = (await _client.GetFromJsonAsync<JsonObject>("/api/v1/imports"))!;
        Assert.DoesNotContain(list["imports"]!.AsArray(), i => (string)i!["file_name"]! == "big.csv");
    }

    [Fact]
    public async Task An_upload_without_a_content_length_is_411_before_anything_is_stored()
    {
        // Chunked: the size is unknown until the end, so it could only be checked after storing.
        var form = new MultipartFormDataContent { { new ByteArrayContent(Encoding.UTF8.GetBytes(Csv.Dcgm(3))), "file", "chunked.csv" } };
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/imports") { Content = form };
        request.Headers.TransferEncodingChunked = true;
        var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.LengthRequired, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var list = (await _client.GetFromJsonAsync<JsonObject>("/api/v1/imports"))!;
        Assert.DoesNotContain(list["imports"]!.AsArray(), i => (string)i!["file_name"]! == "chunked.csv");
    }

    [Fact]
    public async Task A_small_file_still_fits()
    {
        var response = await _client.PostAsync("/api/v1/imports", new StringContent(Csv.Dcgm(3, "2025-01-06T00:00:00Z"), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}
