extern alias embedded;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using EmbeddedProgram = embedded::Program;

namespace Telemetry.Dashboard.Tests;

/// <summary>
/// The embedded host (the real Telemetry.Embedded program) on Kestrel over loopback, so a browser can load
/// it. By default it streams the reference file once, as fast as it goes, into memory. Tests add samples through
/// the collector's own <see cref="IBatchSink"/>, which is what stores streamed samples.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    public const int ReferenceGpus = 247, ReferenceHosts = 31, ReferenceSamples = 2470;

    private readonly WebApplicationFactory<EmbeddedProgram> _factory;

    public static string ReferenceCsv => Path.Combine(AppContext.BaseDirectory, "Fixtures", "dcgm_metrics_20250718_134233.csv");

    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => _factory.Services;

    static DashboardHost()
    {
        // WebApplicationFactory looks for the host's content root beside the solution by assembly name; the
        // services live one folder down.
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "TelemetryPipeline.sln"))) root = Path.GetDirectoryName(root);
        if (root is not null)
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TELEMETRY_EMBEDDED",
                Path.Combine(root, "services", "Telemetry.Embedded"));
        }
    }

    public DashboardHost(IReadOnlyDictionary<string, string>? settings = null)
    {
        var port = FreePort();
        _factory = new WebApplicationFactory<EmbeddedProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("PORT", port.ToString());
            builder.UseSetting("METRICS_PORT", FreePort().ToString());
            builder.UseSetting("CSV_FILE", ReferenceCsv);
            builder.UseSetting("RATE", "0");
            builder.UseSetting("LOOP", "false");
            builder.UseSetting("CHECKPOINT_ENABLED", "false");
            builder.UseSetting("HEARTBEAT_SECONDS", "1");
            builder.UseSetting("LOG_LEVEL", "Warning");
            // Harmless today; once imports are off by default (another change in flight) the upload test needs it.
            builder.UseSetting("IMPORTS_ENABLED", "true");
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        });
        _factory.UseKestrel();
        _factory.StartServer();
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Waits until the reference file is stored (247 GPUs listed, 2,470 samples).</summary>
    public async Task WaitForReferenceAsync()
    {
        await Eventually.HoldsAsync(async () =>
        {
            var page = await Client.GetFromJsonNodeAsync("/api/v1/gpus?limit=1000");
            return (int)page["total"]! == ReferenceGpus
                && page["gpus"]!.AsArray().Sum(gpu => (int)gpu!["samples"]!) == ReferenceSamples;
        }, TimeSpan.FromSeconds(60), "the reference file to be stored");
    }

    /// <summary>Stores samples for one GPU as the collector stores streamed ones.</summary>
    public Task StoreAsync(GpuIdentity gpu, IReadOnlyList<MetricSample> samples) =>
        Services.GetRequiredService<IBatchSink>().IngestAsync(
            new TelemetryBatch(Guid.NewGuid().ToString("N"), [new GpuSamples(gpu, samples)]), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _factory.DisposeAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
