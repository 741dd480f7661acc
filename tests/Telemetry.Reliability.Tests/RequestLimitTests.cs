using System.Net;
using System.Net.Sockets;
using System.Text;
using Telemetry.Hosting;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>Kestrel's limits only exist on a real server, so these requests go to the embedded host
/// running as a child process.</summary>
public sealed class RequestLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Real_server_refuses_oversized_requests_with_4xx()
    {
        using var host = HostProcess.Start(new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.TinyCsv,
            ["CHECKPOINT_ENABLED"] = "false",
            ["LOOP"] = "false",
            ["RATE"] = "0",
        });
        await host.WaitForSamplesAsync(1, TimeSpan.FromSeconds(60));
        var client = host.Client;

        using (var longQuery = await client.GetAsync("/api/v1/gpus?hostname=" + new string('a', RequestLimits.MaxUrlLength)))
        {
            Assert.Equal(HttpStatusCode.RequestUriTooLong, longQuery.StatusCode);
            Assert.Equal("application/problem+json", longQuery.Content.Headers.ContentType?.MediaType);
        }

        var requestLine = await RawAsync(host.Port, $"GET /api/v1/gpus?x={new string('b', RequestLimits.MaxRequestLineBytes + 10)} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 414", requestLine);

        var headers = await RawAsync(host.Port, $"GET /api/v1/gpus HTTP/1.1\r\nHost: x\r\nX-Big: {new string('c', RequestLimits.MaxRequestHeadersTotalBytes + 10)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", headers);

        var manyHeaders = new StringBuilder("GET /api/v1/gpus HTTP/1.1\r\nHost: x\r\n");
        for (var i = 0; i < RequestLimits.MaxRequestHeaderCount + 5; i++) manyHeaders.Append($"X-H{i}: v\r\n");
        var countAnswer = await RawAsync(host.Port, manyHeaders.Append("\r\n").ToString());
        Assert.StartsWith("HTTP/1.1 431", countAnswer);

        var nul = await RawAsync(host.Port, "GET /api/v1/gpus/%00 HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", nul);

        output.WriteLine($"FIGURE limits: URL over {RequestLimits.MaxUrlLength} chars → 414 problem+json; request line over " +
                         $"{RequestLimits.MaxRequestLineBytes} bytes → 414; headers over {RequestLimits.MaxRequestHeadersTotalBytes} bytes or " +
                         $"{RequestLimits.MaxRequestHeaderCount} fields → 431; %00 in the path → 400");
    }

    /// <summary>Sends bytes as they are (HttpClient would refuse some of these) and returns the status line.</summary>
    private static async Task<string> RawAsync(int port, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        }
        catch (IOException)
        {
            // The server may answer and close before it has read everything.
        }
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var readTask = reader.ReadLineAsync();
        return await readTask.WaitAsync(TimeSpan.FromSeconds(10)) ?? "";
    }
}
