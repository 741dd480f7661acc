using System.Diagnostics;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using Telemetry.Reliability.Tests.Support;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// Seeded, time-bounded fuzzing of the CSV reader. Oracle cases (known-good rows mixed with rows broken
/// within their own line) must come out exactly: every good row with its values and line number, every bad
/// line reported once at its line. Chaos cases (random bytes, stray quotes, NULs, invalid UTF-8, enormous
/// lines, thousands of columns) must never crash, hang or blow up memory. `make test` runs a short pass;
/// `make fuzz` runs FUZZ_SECONDS with FUZZ_SEED. A failure names the seed that reproduces it.
/// </summary>
[Collection(MemorySensitive.Name)]
public sealed class CsvFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);
    // What reading one file may allocate, whatever the file holds. The reader stops a record at 1 MiB, so nothing
    // should need more than a few MiB (the most seen is ~4.3 MiB); growth without a bound would blow through this.
    private const long MaxAllocatedPerFile = 32L * 1024 * 1024;
    private static readonly TelemetryCsvOptions Options = new("fuzz-host");
    private static int _overLimitReadWhole;

    [Fact]
    [Trait("Category", "Fuzz")]
    public async Task Csv_reader_survives_hostile_files_and_reports_every_bad_line()
    {
        var budget = FuzzSettings.Duration(8);
        var baseSeed = FuzzSettings.Seed;
        var watch = Stopwatch.StartNew();
        int oracleCases = 0, chaosCases = 0, openRefusals = 0;
        long goodRows = 0, badLines = 0, neutralLines = 0, fatalLines = 0, chaosRows = 0, chaosErrors = 0, bytesRead = 0;
        var slowest = TimeSpan.Zero;
        long mostAllocated = 0;
        var mutations = new Dictionary<string, int>();
        for (var i = 0; watch.Elapsed < budget; i++)
        {
            var seed = unchecked(baseSeed * 7919 + i);
            var started = Stopwatch.StartNew();
            if (i % 4 != 3)
            {
                var fuzzCase = CsvCaseGenerator.Oracle(seed);
                var (results, allocated) = await RunCaseAsync(fuzzCase.Bytes, seed);
                mostAllocated = CheckAllocation(allocated, mostAllocated, seed);
                Assert.NotNull(results); // oracle files always have a valid header
                CheckOracle(fuzzCase, results!);
                oracleCases++;
                bytesRead += fuzzCase.Bytes.Length;
                foreach (var line in fuzzCase.Expected)
                {
                    switch (line.Kind)
                    {
                        case LineKind.Good: goodRows++; break;
                        case LineKind.Bad: badLines++; mutations[line.Mutation] = mutations.GetValueOrDefault(line.Mutation) + 1; break;
                        case LineKind.Neutral: neutralLines++; break;
                        case LineKind.Fatal: fatalLines++; break;
                    }
                }
            }
            else
            {
                var bytes = CsvCaseGenerator.Chaos(seed);
                var (results, allocated) = await RunCaseAsync(bytes, seed);
                mostAllocated = CheckAllocation(allocated, mostAllocated, seed);
                chaosCases++;
                bytesRead += bytes.Length;
                if (results is null)
                {
                    openRefusals++;
                    continue;
                }
                CheckChaos(bytes, results, seed);
                chaosRows += results.Count(r => r.Row is not null);
                chaosErrors += results.Count(r => r.Error is not null);
            }
            if (started.Elapsed > slowest) slowest = started.Elapsed;
        }
        output.WriteLine($"FIGURE csv-fuzz: seed {baseSeed}, {watch.Elapsed.TotalSeconds:F1}s, {oracleCases + chaosCases} files " +
                         $"({bytesRead / 1048576.0:F1} MB): {oracleCases} oracle files with {goodRows} good rows all kept, " +
                         $"{badLines} bad lines all reported at their line, {neutralLines} blank/repeated-header lines ignored, " +
                         $"{fatalLines} over-long lines ({_overLimitReadWhole} of them read whole, the rest reported where reading stops); {chaosCases} chaos files " +
                         $"({openRefusals} refused at Open with a documented exception, {chaosRows} rows, {chaosErrors} errors); " +
                         $"0 crashes, 0 hangs (per-file limit {CaseTimeout.TotalSeconds:F0}s, slowest {slowest.TotalMilliseconds:F0} ms), " +
                         $"at most {mostAllocated / 1048576.0:F1} MiB allocated reading one file");
        output.WriteLine("mutations: " + string.Join(", ", mutations.OrderBy(m => m.Key).Select(m => $"{m.Key} {m.Value}")));
    }

    /// <summary>Reads a whole file on another thread under a timeout, with what that thread allocated while reading
    /// (its own counter: exact, and blind to the generator and to anything else the process does, which a sample
    /// of the whole heap is not). Results are null when Open refused the file with a documented exception; any
    /// other exception fails the test.</summary>
    private static async Task<(List<CsvReadResult>? Results, long Allocated)> RunCaseAsync(byte[] bytes, int seed)
    {
        var work = Task.Run(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            using var stream = new MemoryStream(bytes, writable: false);
            TelemetryCsvReader reader;
            try
            {
                reader = TelemetryCsvReader.Open(stream, $"fuzz-{seed}.csv", Options);
            }
            catch (Exception e) when (e is UnrecognisedCsvException or CsvSourceException)
            {
                Assert.DoesNotContain('\n', e.Message);
                return ((List<CsvReadResult>?)null, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            using (reader)
            {
                var results = reader.ReadAll().ToList();
                return (results, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        });
        try
        {
            return await work.WaitAsync(CaseTimeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"seed {seed}: reading did not finish within {CaseTimeout}");
            throw;
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"seed {seed}: the reader threw {e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    private static long CheckAllocation(long allocated, long mostSoFar, int seed)
    {
        Assert.True(allocated < MaxAllocatedPerFile, $"seed {seed}: reading one file allocated {allocated / 1048576.0:F1} MiB");
        return Math.Max(allocated, mostSoFar);
    }

    private static void CheckOracle(CsvCase fuzzCase, List<CsvReadResult> results)
    {
        var rows = results.Where(r => r.Row is not null).Select(r => r.Row!).ToDictionary(r => r.LineNumber);
        var errors = results.Where(r => r.Error is not null).Select(r => r.Error!).ToList();
        var errorLines = errors.GroupBy(e => e.LineNumber).ToDictionary(g => g.Key, g => g.Count());
        var context = fuzzCase.Description;
        var fatalReadWhole = false;
        foreach (var line in fuzzCase.Expected)
        {
            switch (line.Kind)
            {
                case LineKind.Good:
                    Assert.True(rows.TryGetValue(line.Line, out var row),
                        $"{context}: good line {line.Line} missing; errors: {string.Join(" | ", errors.Where(e => Math.Abs(e.LineNumber - line.Line) <= 1))}");
                    Assert.Equal(line.Uuid, row!.Gpu.Uuid);
                    Assert.Equal(line.Metric, row.Metrics.Single().Name);
                    Assert.Equal(line.Value, row.Metrics.Single().Value);
                    break;
                case LineKind.Fatal when rows.ContainsKey(line.Line):
                    // The 1 MiB record limit is enforced where the parser's buffer grows, so a line a little over
                    // it can still be read whole; that is fine as long as nothing is lost or misnumbered.
                    fatalReadWhole = true;
                    break;
                case LineKind.Bad or LineKind.Fatal:
                    Assert.True(errorLines.GetValueOrDefault(line.Line) == 1,
                        $"{context}: {line.Mutation} at line {line.Line} reported {errorLines.GetValueOrDefault(line.Line)} times; " +
                        $"row there: {rows.ContainsKey(line.Line)}; errors: {string.Join(" | ", errors.Take(5))}");
                    break;
                case LineKind.Neutral:
                    Assert.False(rows.ContainsKey(line.Line) || errorLines.ContainsKey(line.Line), $"{context}: neutral line {line.Line} produced output");
                    break;
            }
        }
        Assert.Equal(fuzzCase.Expected.Count(l => l.Kind == LineKind.Good) + (fatalReadWhole ? 1 : 0), rows.Count);
        Assert.Equal(fuzzCase.Expected.Count(l => l.Kind is LineKind.Bad or LineKind.Fatal) - (fatalReadWhole ? 1 : 0), errors.Count);
        if (fatalReadWhole) Interlocked.Increment(ref _overLimitReadWhole);
        Assert.All(errors, e => Assert.True(e.Reason.Length < 400 && !e.Reason.Contains('\n'), $"{context}: unwieldy error '{e}'"));
    }

    private static void CheckChaos(byte[] bytes, List<CsvReadResult> results, int seed)
    {
        var physicalLines = 1 + bytes.Count(b => b == (byte)'\n') + bytes.Count(b => b == (byte)'\r');
        long previous = 0;
        foreach (var result in results)
        {
            var line = result.Row?.LineNumber ?? result.Error!.LineNumber;
            Assert.True(line >= 2 && line <= physicalLines + 1, $"seed {seed}: line number {line} outside 2..{physicalLines + 1}");
            Assert.True(line >= previous, $"seed {seed}: line {line} reported after line {previous}");
            previous = line;
            if (result.Error is { } error) Assert.True(error.Reason.Length < 400, $"seed {seed}: error reason of {error.Reason.Length} chars");
            if (result.Row is { } row) Assert.All(row.Metrics, m => Assert.True(double.IsFinite(m.Value)));
        }
    }
}
