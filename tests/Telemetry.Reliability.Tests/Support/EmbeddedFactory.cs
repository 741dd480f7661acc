using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Core.Windows;

namespace Telemetry.Reliability.Tests.Support;

/// <summary>The embedded host in memory. Defaults: memory store, the tiny fixture streamed once, no pacing.
/// (Any type of the embedded host's assembly names its entry point; <c>Program</c> itself is ambiguous here, since the
/// collector and gateway programs are public too.)</summary>
internal sealed class EmbeddedFactory(IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Telemetry.Embedded.BatchQueue>
{
    private readonly TempDirectory _data = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var all = new Dictionary<string, string>
        {
            ["CHECKPOINT_ENABLED"] = "false",
            ["DATA_DIR"] = _data.Path,
            ["CSV_FILE"] = TestPaths.TinyCsv,
            ["LOOP"] = "false",
            ["RATE"] = "0",
            ["LOG_LEVEL"] = "Error",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) all[key] = value;
        foreach (var (key, value) in all) builder.UseSetting(key, value);
        if (services is not null) builder.ConfigureTestServices(services);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _data.Dispose();
    }
}

/// <summary>Wraps the collector's sink: counts what reaches it and what it stored, and can slow it down or hold
/// every append until told to go on (a stalled store).</summary>
internal sealed class CountingSink(IBatchSink inner, TimeSpan delay = default) : IBatchSink
{
    private long _batchesEntered, _samplesEntered, _stored, _duplicates;
    private int _held;
    private TaskCompletionSource? _stall;

    public long BatchesEntered => Interlocked.Read(ref _batchesEntered);
    public long SamplesEntered => Interlocked.Read(ref _samplesEntered);
    public long Stored => Interlocked.Read(ref _stored);
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Appends waiting inside the sink while it is stalled.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>From now on every append waits, counted in <see cref="Held"/>, until <see cref="Resume"/>.</summary>
    public void Stall() => Interlocked.CompareExchange(ref _stall, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    public void Resume() => Interlocked.Exchange(ref _stall, null)?.TrySetResult();

    public async Task<AppendResult> IngestAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _batchesEntered);
        Interlocked.Add(ref _samplesEntered, batch.SampleCount);
        if (Volatile.Read(ref _stall) is { } stall)
        {
            Interlocked.Increment(ref _held);
            try { await stall.Task; }
            finally { Interlocked.Decrement(ref _held); }
        }
        if (delay > TimeSpan.Zero) await Task.Delay(delay, CancellationToken.None); // a slow store, not a wait for anything
        var result = await inner.IngestAsync(batch, cancellationToken);
        Interlocked.Add(ref _stored, result.Stored);
        Interlocked.Add(ref _duplicates, result.Duplicates);
        return result;
    }

    /// <summary>Replaces the registered <see cref="IBatchSink"/> with a counting (and maybe slow) one;
    /// <paramref name="capture"/> sees it before anything is delivered to it.</summary>
    public static Action<IServiceCollection> Install(TimeSpan delay, Action<CountingSink> capture) => services =>
    {
        services.AddSingleton<IBatchSink>(provider =>
        {
            var sink = new CountingSink(provider.GetRequiredService<Telemetry.Collector.TelemetryIngestor>(), delay);
            capture(sink);
            return sink;
        });
    };
}
