using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Benchmarks;

/// <summary>One reported figure with the baseline it is compared to, measured in the same run.</summary>
public sealed record Figure(
    string Id,
    string Name,
    double Value,
    string Unit,
    double? Baseline = null,
    string? BaselineName = null,
    string? Target = null,
    bool? Holds = null,
    string? Note = null)
{
    /// <summary>Value / baseline, when there is a baseline.</summary>
    public double? Ratio => Baseline is > 0 ? Value / Baseline : null;
}

public sealed record MachineInfo(int Cores, string CpuModel, string Os, string Runtime, long MemoryBytes);

public sealed record BenchReport(
    string Mode,
    DateTime StartedUtc,
    DateTime FinishedUtc,
    string Commit,
    bool Dirty,
    MachineInfo Machine,
    IReadOnlyList<Figure> Figures);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;

/// <summary>Collects figures as they are measured, prints them, and writes the JSON file.</summary>
public sealed class Reporter(string mode, string outputPath)
{
    private readonly List<Figure> _figures = [];
    private readonly DateTime _started = DateTime.UtcNow;

    public IReadOnlyList<Figure> Figures => _figures;

    public void Add(Figure figure)
    {
        lock (_figures) _figures.Add(figure);
        Console.WriteLine($"  [{figure.Id}] {figure.Name}: {Format(figure.Value)} {figure.Unit}" +
            (figure.Baseline is { } b ? $" (baseline {Format(b)}, ratio {Format(figure.Ratio ?? 0)})" : "") +
            (figure.Holds is { } h ? (h ? "  target holds" : "  TARGET MISSED") : ""));
        Save(); // a run cut short still leaves every figure measured so far
    }

    public void Save()
    {
        var (commit, dirty) = Git();
        var report = new BenchReport(mode, _started, DateTime.UtcNow, commit, dirty, Machine(), [.. _figures]);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        File.WriteAllText(outputPath, JsonSerializer.Serialize(report, ReportJsonContext.Default.BenchReport));
    }

    public void PrintTable()
    {
        var rows = new List<string[]> { new[] { "id", "figure", "value", "unit", "baseline", "ratio", "target", "holds" } };
        foreach (var f in _figures)
        {
            rows.Add([f.Id, f.Name, Format(f.Value), f.Unit, f.Baseline is { } b ? Format(b) : "", f.Ratio is { } r ? Format(r) : "",
                f.Target ?? "", f.Holds switch { true => "yes", false => "NO", null => "" }]);
        }
        var widths = new int[rows[0].Length];
        foreach (var row in rows) for (var i = 0; i < row.Length; i++) widths[i] = Math.Max(widths[i], Math.Min(row[i].Length, 60));
        Console.WriteLine();
        foreach (var row in rows)
        {
            Console.WriteLine(string.Join(" | ", row.Select((cell, i) => (cell.Length > 60 ? cell[..57] + "..." : cell).PadRight(widths[i]))));
        }
        var m = Machine();
        var (commit, dirty) = Git();
        Console.WriteLine($"\nmachine: {m.Cores} cores, {m.CpuModel}, {m.MemoryBytes / (1 << 20)} MiB, {m.Runtime}; commit {commit}{(dirty ? " (dirty)" : "")}; mode {mode}");
        Console.WriteLine($"results: {Path.GetFullPath(outputPath)}");
    }

    public static string Format(double value) => Math.Abs(value) switch
    {
        0 => "0",
        >= 100 => value.ToString("#,0", CultureInfo.InvariantCulture),
        >= 1 => value.ToString("0.##", CultureInfo.InvariantCulture),
        _ => value.ToString("0.####", CultureInfo.InvariantCulture),
    };

    public static MachineInfo Machine()
    {
        var model = "unknown";
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("model name", StringComparison.Ordinal)) continue;
                model = line[(line.IndexOf(':') + 1)..].Trim();
                break;
            }
        }
        catch (IOException) { }
        return new MachineInfo(Environment.ProcessorCount, model, System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }

    private static (string Commit, bool Dirty) Git()
    {
        try
        {
            var commit = Run("rev-parse HEAD").Trim();
            var dirty = Run("status --porcelain --untracked-files=no").Trim().Length > 0;
            return (commit, dirty);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return ("unknown", false);
        }

        static string Run(string args)
        {
            using var git = Process.Start(new ProcessStartInfo("git", args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Paths.RepositoryRoot,
            })!;
            var output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return output;
        }
    }
}

internal static class Paths
{
    public static string RepositoryRoot { get; } = Find();
    public static string ReferenceCsv => Path.Combine(RepositoryRoot, "data", "dcgm_metrics_20250718_134233.csv");

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TelemetryPipeline.sln"))) directory = directory.Parent;
        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>Percentiles of a sample of durations.</summary>
internal static class Stats
{
    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
