using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Telemetry.Reliability.Tests.Support;

/// <summary>HTTP/1.1 by hand, for requests HttpClient will not send as they are: forged or port-less Host
/// headers, bodies that trickle, lie about their length or break the chunked encoding.</summary>
internal static class RawHttp
{
    /// <summary>Sends <paramref name="head"/> (request line and headers, ending in a blank line), then lets
    /// <paramref name="body"/> write for as long as it likes; returns the response's status line and headers as
    /// soon as they arrive (the body writer is then stopped). Write errors are ignored: a server may answer
    /// and close before it has read everything.</summary>
    public static async Task<string> SendAsync(int port, string head, Func<Stream, CancellationToken, Task>? body = null, TimeSpan? timeout = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), stop.Token);
                if (body is not null) await body(stream, stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException) { }
        });
        try
        {
            return await ReadHeadAsync(stream).WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
        finally
        {
            await stop.CancelAsync();
            await writer.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Bytes up to the blank line that ends the response head (or the connection's end).</summary>
    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            int read;
            try
            {
                read = await stream.ReadAsync(one);
            }
            catch (IOException)
            {
                break;
            }
            if (read == 0) break;
            head.Append((char)one[0]);
        }
        return head.ToString();
    }

    /// <summary>Writes <paramref name="count"/> copies of <paramref name="value"/> in blocks of 64 KiB.</summary>
    public static async Task RepeatAsync(Stream stream, byte value, long count, CancellationToken cancellationToken)
    {
        var block = new byte[64 * 1024];
        Array.Fill(block, value);
        for (var left = count; left > 0; left -= block.Length)
        {
            await stream.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, left)), cancellationToken);
        }
    }
}
