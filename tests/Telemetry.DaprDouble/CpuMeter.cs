using System.Runtime.InteropServices;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Telemetry.DaprDouble;

/// <summary>
/// Opt-in accounting of the CPU the sidecar doubles spend in their own code, for benchmarks that run the doubles
/// in the same process as the apps and want to subtract them. Off by default (no cost then). Measured with the
/// calling thread's CPU clock around synchronous sections only: gRPC message (de)serialisation, the synchronous
/// part of each handler, and building/parsing the delivery bodies. Kestrel's HTTP/2 framing on the sidecar side
/// and the delivery worker's await machinery are not covered, so the accounted figure is a lower bound.
/// Process-wide (all sidecars of the process together).
/// </summary>
public static class SidecarCpuMeter
{
    private static long _nanoseconds, _allocated;

    public static bool Enabled { get; set; }

    /// <summary>CPU accounted to the doubles since the last <see cref="Reset"/>.</summary>
    public static TimeSpan Accounted => TimeSpan.FromTicks(Interlocked.Read(ref _nanoseconds) / 100);

    /// <summary>Bytes allocated inside the measured sections since the last <see cref="Reset"/>.</summary>
    public static long AllocatedBytes => Interlocked.Read(ref _allocated);

    public static void Reset()
    {
        Interlocked.Exchange(ref _nanoseconds, 0);
        Interlocked.Exchange(ref _allocated, 0);
    }

    /// <summary>The calling thread's CPU time in nanoseconds (Linux; 0 elsewhere, which accounts nothing).</summary>
    public static long ThreadNanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        return clock_gettime(ClockThreadCpuTime, out var ts) == 0 ? ts.Seconds * 1_000_000_000L + ts.Nanoseconds : 0;
    }

    /// <summary>Starts a measured section; pass the result to <see cref="Stop"/> on the same thread.</summary>
    public static (long Cpu, long Allocated) Start() =>
        Enabled ? (ThreadNanoseconds(), GC.GetAllocatedBytesForCurrentThread()) : (0, 0);

    public static void Stop((long Cpu, long Allocated) started)
    {
        if (started.Cpu == 0) return;
        var spent = ThreadNanoseconds() - started.Cpu;
        if (spent > 0) Interlocked.Add(ref _nanoseconds, spent);
        Interlocked.Add(ref _allocated, GC.GetAllocatedBytesForCurrentThread() - started.Allocated);
    }

    internal static T Measure<T>(Func<T> work)
    {
        var started = Start();
        try { return work(); }
        finally { Stop(started); }
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clockId, out TimeSpec time);
}

/// <summary>Accounts the synchronous part of every gRPC handler to <see cref="SidecarCpuMeter"/>.</summary>
internal sealed class CpuMeterInterceptor : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = SidecarCpuMeter.Start();
        try { return continuation(request, context); }
        finally { SidecarCpuMeter.Stop(started); }
    }
}
