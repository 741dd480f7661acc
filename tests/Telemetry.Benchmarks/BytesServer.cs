using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Telemetry.Benchmarks;

/// <summary>
/// <c>Telemetry.Benchmarks child bytes</c>: a bare Kestrel process that answers <c>GET /bytes/{name}</c> with a file of
/// <c>BYTES_DIR</c> held in memory, on <c>PORT</c>. Figure 8 puts one of our whole-window answers and one of our
/// <c>/series</c> answers behind it and times them in the same turns as the real queries: what sending those bytes
/// costs on this machine with no store, no bucketing and no formatting — the floor under each query's latency.
/// </summary>
internal static class BytesServer
{
    /// <summary>Sent in pieces of this size with a flush after each, as our answers are (the socket carries one piece
    /// while the next is copied).</summary>
    private const int PieceBytes = 48 * 1024;

    public static async Task<int> RunAsync()
    {
        var directory = Environment.GetEnvironmentVariable("BYTES_DIR") ?? throw new InvalidOperationException("BYTES_DIR is not set.");
        var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? throw new InvalidOperationException("PORT is not set."), CultureInfo.InvariantCulture);
        var files = Directory.GetFiles(directory).ToDictionary(file => Path.GetFileName(file), File.ReadAllBytes, StringComparer.Ordinal);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/health/ready", () => "ready");
        app.MapGet("/bytes/{name}", async (HttpContext context, string name) =>
        {
            if (!files.TryGetValue(name, out var bytes))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            context.Response.ContentType = "application/json; charset=utf-8";
            var body = context.Response.BodyWriter;
            for (var at = 0; at < bytes.Length; at += PieceBytes)
            {
                var piece = bytes.AsSpan(at, Math.Min(PieceBytes, bytes.Length - at));
                piece.CopyTo(body.GetSpan(piece.Length));
                body.Advance(piece.Length);
                await body.FlushAsync(context.RequestAborted);
            }
        });
        await app.RunAsync();
        return 0;
    }
}
