using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Telemetry.Service.Tests.Support;

public static partial class Http
{
    public static async Task<JsonNode> GetJsonAsync(this HttpClient client, string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"GET {path}: expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!;
    }

    /// <summary>Asserts a problem+json answer with <paramref name="status"/> and returns its detail.</summary>
    public static async Task<string> GetProblemAsync(this HttpClient client, string path, HttpStatusCode status)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"GET {path}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        AssertNoInternals(body);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal((int)status, (int)problem["status"]!);
        return (string?)problem["detail"] ?? "";
    }

    /// <summary>No stack trace, exception type or source path in a body a client sees.</summary>
    public static void AssertNoInternals(string body)
    {
        Assert.DoesNotMatch(StackFrame(), body);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain(".cs:line", body, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\bat [\w.`<>]+\(")]
    private static partial Regex StackFrame();

    public static string Query(params (string Name, string Value)[] parameters) =>
        string.Join('&', parameters.Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value)}"));

    public static T[] Items<T>(this JsonNode? array, Func<JsonNode, T> select) => [.. array!.AsArray().Select(n => select(n!))];

    public static JsonSerializerOptions Snake { get; } = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
