using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Resilience;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Service.Tests.Support;

/// <summary>Keeps every batch it is handed, in the order publishing completed; <see cref="Fault"/> can make a call
/// fail instead.</summary>
public sealed class RecordingPublisher : IBatchPublisher
{
    private int _calls;

    /// <summary>Asked before each call: an exception to throw instead of accepting the batch, or null.</summary>
    public Func<TelemetryBatch, Exception?>? Fault { get; set; }

    public int Calls => Volatile.Read(ref _calls);

    private readonly Lock _lock = new();
    private readonly List<TelemetryBatch> _batches = [];

    public IReadOnlyList<TelemetryBatch> Batches
    {
        get { lock (_lock) return [.. _batches]; }
    }

    public IEnumerable<(GpuIdentity Gpu, MetricSample Sample)> Samples =>
        Batches.SelectMany(b => b.Gpus).SelectMany(g => g.Samples.Select(s => (g.Gpu, s)));

    public Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (Fault?.Invoke(batch) is { } error) throw error;
        lock (_lock) _batches.Add(batch);
        return Task.CompletedTask;
    }
}

/// <summary>Just the streamer (the same registration every host uses) with a recording publisher.</summary>
public sealed class StreamerHarness : IAsyncDisposable
{
    private readonly IHost _host;

    public StreamerHarness(IReadOnlyDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IBatchPublisher>(Publisher);
        // Retries as in production, only with millisecond waits, so fault tests stay quick.
        builder.Services.AddSingleton(new Backoff(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20)));
        builder.Services.AddTelemetryStreamer();
        _host = builder.Build();
        Status = _host.Services.GetRequiredService<StreamerStatus>();
    }

    public RecordingPublisher Publisher { get; } = new();
    public StreamerStatus Status { get; }

    public Task StartAsync() => _host.StartAsync();

    /// <summary>Starts and waits for the single pass (LOOP=false) to finish.</summary>
    public async Task RunOnceAsync(TimeSpan timeout)
    {
        await StartAsync();
        await Eventually.CompletesAsync(Status.Finished, "the streamer finishing its pass", timeout,
            () => $"{Status.RowsRead} rows read, {Status.RowsPublished} published");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
