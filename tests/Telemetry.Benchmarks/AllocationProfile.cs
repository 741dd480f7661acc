using System.Diagnostics.Tracing;
using Telemetry.Hosting;

namespace Telemetry.Benchmarks;

/// <summary>
/// `Telemetry.Benchmarks alloc [sqlite|memory] [seconds]`: runs the embedded pipeline at full speed and prints which
/// types it allocates, from the runtime's AllocationTick events (one event per ~100 kB allocated, naming the type
/// that crossed the mark), so the big allocators show up in proportion. Used while optimising figure 2.
/// </summary>
internal static class AllocationProfile
{
    public static async Task RunAsync(string store, int seconds)
    {
        var settings = new Dictionary<string, string>
        {
            ["CSV_FILE"] = Paths.ReferenceCsv,
            ["RATE"] = "0",
            ["LOOP"] = "true",
            ["CHECKPOINT_ENABLED"] = store == "sqlite" ? "true" : "false",
        };
        await using var host = new EmbeddedHost(settings);
        await Task.Delay(TimeSpan.FromSeconds(5)); // JIT and first manifests
        using var listener = new AllocationListener();
        var stored = TelemetryMetrics.SamplesStored.Value;
        var allocated = GC.GetTotalAllocatedBytes();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        stored = TelemetryMetrics.SamplesStored.Value - stored;
        allocated = GC.GetTotalAllocatedBytes() - allocated;
        Console.WriteLine($"{store}: {stored:N0} samples stored in {seconds} s, {allocated / stored:0} B allocated per sample");
        foreach (var (type, bytes) in listener.ByType.OrderByDescending(t => t.Value).Take(25))
        {
            Console.WriteLine($"  {bytes * 100.0 / listener.Total,5:0.0}%  {bytes / stored,6:0.0} B/sample  {type}");
        }
    }

    private sealed class AllocationListener : EventListener
    {
        public Dictionary<string, long> ByType { get; } = [];
        public long Total { get; private set; }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!e.EventName!.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
            var type = e.Payload[e.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
            var bytes = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")]);
            lock (ByType)
            {
                ByType[type] = ByType.GetValueOrDefault(type) + bytes;
                Total += bytes;
            }
        }
    }
}
