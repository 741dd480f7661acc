extern alias embedded;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Telemetry.Service.Tests.Support;

/// <summary>
/// A <see cref="WebApplicationFactory{TEntryPoint}"/> whose settings are given as the keys the hosts read
/// (CSV_FILE, RATE, ...). Settings go in through <c>UseSetting</c>, which the minimal host sees both while it
/// is built (ports, which store) and through options.
/// </summary>
public class HostFactory<TEntryPoint>(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
        if (services is not null) builder.ConfigureTestServices(services);
    }

    /// <summary>A client whose requests go to <paramref name="port"/> (endpoints mapped with RequireHost).</summary>
    public HttpClient ClientOn(int port)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.BaseAddress = new Uri($"http://localhost:{port}");
        return client;
    }
}

/// <summary>The embedded all-in-one host. Defaults: in-memory store, a header-only CSV (so the streamer ends
/// at once and tests seed the data), one pass.</summary>
public sealed class EmbeddedFactory : HostFactory<embedded::Program>
{
    public const int ApiPort = 8081, MetricsPort = 9091;

    public EmbeddedFactory(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
        : base(settings, services)
    {
    }

    /// <summary>Settings for a host that streams nothing: <paramref name="csvFile"/> must exist.</summary>
    public static Dictionary<string, string?> Quiet(string csvFile) => new()
    {
        ["CSV_FILE"] = csvFile,
        ["LOOP"] = "false",
        ["RATE"] = "0",
        ["CHECKPOINT_ENABLED"] = "false",
        ["LOG_LEVEL"] = "Warning",
    };
}
