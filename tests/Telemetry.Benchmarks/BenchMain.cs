using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Telemetry.Benchmarks;

/// <summary>
/// <c>Telemetry.Benchmarks [quick|full] [--only 1,2,5] [--out path]</c>: runs the figures and writes the table
/// and the JSON file. <c>micro</c> runs the hot-path micro-benchmarks (BenchmarkDotNet) used while optimising;
/// <c>probe</c> times one query against a gateway already running (<see cref="Probe"/>).
/// </summary>
public static class BenchMain
{
    public static async Task<int> Main(string[] args)
    {
        var mode = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "quick";
        var only = Option(args, "--only")?.Split(',').ToHashSet() ?? [];
        var output = Option(args, "--out") ?? Path.Combine(Paths.RepositoryRoot, "BenchmarkResults", mode == "full" ? "results-full.json" : "results.json");
        if (mode == "child") return await Children.RunAsync(args);
        if (mode == "profile")
        {
            await HotPathProfile.RunAsync();
            return 0;
        }
        if (mode == "alloc")
        {
            await AllocationProfile.RunAsync(args.Length > 1 ? args[1] : "sqlite", args.Length > 2 ? int.Parse(args[2]) : 10);
            return 0;
        }
        if (mode == "probe")
        {
            await Probe.RunAsync(args);
            return 0;
        }
        if (mode == "micro")
        {
            BenchmarkSwitcher.FromAssembly(typeof(BenchMain).Assembly).Run(args[1..], Config(quick: true));
            return 0;
        }
        var quick = mode != "full";
        var reporter = new Reporter(mode, output);
        bool Want(string id) => only.Count == 0 || only.Contains(id);
        Console.WriteLine($"TelemetryPipeline benchmarks, {mode} mode; figures: {(only.Count == 0 ? "all" : string.Join(",", only))}");

        if (Want("1")) Figures.CsvRead(reporter, quick);
        if (Want("2")) await Figures.EndToEndAsync(reporter, quick);
        if (Want("3") || Want("4")) await Figures.DaprAsync(reporter, quick, Want("3"), Want("4"));
        if (Want("5")) await Figures.QueryLatencyAsync(reporter, quick);
        if (Want("6")) await Figures.MemoryAsync(reporter, quick);
        if (Want("7")) await Figures.ScalingAsync(reporter, quick);
        if (Want("8")) await Figures.VictoriaMetricsAsync(reporter, quick);
        if (Want("9")) await Figures.StartUpAsync(reporter, quick);
        if (Want("10")) await DashboardFigures.RunAsync(reporter, quick);

        reporter.Save();
        reporter.PrintTable();
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>In-process (no generated project to build), few iterations: each operation reads a whole
    /// million-row input, so one invocation per iteration is plenty.</summary>
    public static IConfig Config(bool quick) => ManualConfig.CreateEmpty()
        .AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 1 : 2)
            .WithIterationCount(quick ? 5 : 15)
            .WithInvocationCount(1)
            .WithUnrollFactor(1))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddLogger(ConsoleLogger.Default)
        .AddColumnProvider(DefaultColumnProviders.Instance)
        .AddExporter(MarkdownExporter.GitHub)
        .WithArtifactsPath(Path.Combine(Paths.RepositoryRoot, "BenchmarkResults", "bdn"))
        .WithOptions(ConfigOptions.DisableLogFile);

    public static double MeanSeconds(Summary summary, string method) =>
        summary.Reports.First(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics!.Median / 1e9;

    public static double AllocatedBytes(Summary summary, string method) =>
        summary.Reports.First(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).GcStats.GetBytesAllocatedPerOperation(
            summary.Reports.First(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).BenchmarkCase) ?? 0;
}
