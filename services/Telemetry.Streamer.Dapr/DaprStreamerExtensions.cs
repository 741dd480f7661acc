using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Storage;
using Telemetry.Dapr;
using Telemetry.Hosting;

namespace Telemetry.Streamer;

public static class DaprStreamerExtensions
{
    /// <summary>Publishing through Dapr pub/sub, and sharing the file with the other replicas through leases
    /// in the Dapr state store.</summary>
    public static IServiceCollection AddDaprStreaming(this IServiceCollection services)
    {
        services.AddDaprState().AddDaprPublisher();
        services.AddSettings<StreamerHostOptions>();
        services.AddSingleton<IRowShare>(provider =>
        {
            var streamer = provider.GetRequiredService<IOptions<StreamerOptions>>().Value;
            var host = provider.GetRequiredService<IOptions<StreamerHostOptions>>().Value;
            return new SidecarGatedRowShare(provider.GetRequiredService<SidecarGate>(), new SharedRowShare(
                provider.GetRequiredService<IKeyValueStore>(),
                FileIdentity(streamer.CsvFile),
                host.RowsPerClaim(streamer),
                streamer.Loop,
                TimeSpan.FromSeconds(host.ShareLeaseSeconds),
                $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..12]}",
                logger: provider.GetRequiredService<ILogger<SharedRowShare>>()));
        });
        return services;
    }

    /// <summary>Replicas share a plan when they stream the same file: same name and same size.</summary>
    public static string FileIdentity(string path)
    {
        var info = new FileInfo(path);
        var text = $"{info.Name}:{(info.Exists ? info.Length : 0)}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}
