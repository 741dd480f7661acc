using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Hosting;

namespace Telemetry.Streamer;

public static class StreamerServiceExtensions
{
    /// <summary>The streamer worker and its settings. The host supplies the <see cref="IBatchPublisher"/>; a
    /// <see cref="IRowShare"/> is optional (default: this replica streams the whole file), and so are the
    /// <see cref="FailureClassifier"/> (default: the core's), the delivery <see cref="Backoff"/> and the <see cref="IQuarantine"/> (default: files in
    /// <c>QUARANTINE_DIR</c>).</summary>
    public static IServiceCollection AddTelemetryStreamer(this IServiceCollection services)
    {
        services.AddSettings<StreamerOptions>();
        services.AddSingleton<IValidateOptions<StreamerOptions>, StreamerOptionsValidator>();
        services.TryAddSingleton<IRowShare>(provider =>
            new WholeFileShare(provider.GetRequiredService<IOptions<StreamerOptions>>().Value.Loop));
        services.TryAddSingleton<ProcessingClock>();
        services.TryAddSingleton(FailureClassifier.Default);
        services.TryAddSingleton(Backoff.Delivery);
        services.TryAddSingleton<IQuarantine>(provider => new FileQuarantine(
            provider.GetRequiredService<IOptions<StreamerOptions>>().Value.QuarantineDir, provider.GetService<ILogger<FileQuarantine>>()));
        services.AddSingleton<StreamerStatus>();
        services.AddHostedService<StreamerWorker>();
        return services;
    }
}
