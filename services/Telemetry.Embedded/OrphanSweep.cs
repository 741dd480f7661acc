using Telemetry.Core.Storage;
using Telemetry.Core.Windows;

namespace Telemetry.Embedded;

/// <summary>Removes segments a crash left behind, once, at start-up, before the collector writes anything.</summary>
public sealed partial class OrphanSweep(IKeyValueStore store, ILogger<OrphanSweep> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var removed = await OrphanSegmentSweeper.SweepAsync(store, cancellationToken);
        if (removed > 0) LogRemoved(removed);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} window segments no manifest names (left by an earlier crash)")]
    private partial void LogRemoved(int count);
}
