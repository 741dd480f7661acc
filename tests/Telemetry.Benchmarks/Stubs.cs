namespace Telemetry.Benchmarks;

internal static partial class Figures
{
    public static Task DaprAsync(Reporter reporter, bool quick, bool roundTrips, bool cpu) => Task.CompletedTask;
    public static Task QueryLatencyAsync(Reporter reporter, bool quick) => Task.CompletedTask;
    public static Task MemoryAsync(Reporter reporter, bool quick) => Task.CompletedTask;
}

internal static class Children
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(2);
}
