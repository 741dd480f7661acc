using System.Diagnostics;
using Telemetry.Core.Storage;
using Telemetry.Reliability.Tests.Support;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Reliability.Tests;

/// <summary>
/// The embedded host is killed with SIGKILL while it ingests as fast as it can, then started again on the
/// same DATA_DIR. After every kill the SQLite file must open, every window must be whole (its manifest names
/// only segments that exist, segments sorted and disjoint, counts as the manifest says), no GPU may hold two
/// samples with the same (timestamp, metric), and nothing the API had already served may be gone.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Kills = 3;
    private const int MaxEntries = 500;

    [Fact]
    [Trait("Category", "Fault")]
    public async Task Sigkill_mid_ingest_leaves_consistent_windows_without_duplicates()
    {
        using var data = new TempDirectory();
        var database = Path.Combine(data.Path, "telemetry.db");
        var environment = new Dictionary<string, string>
        {
            ["CSV_FILE"] = TestPaths.ReferenceCsv,
            ["DATA_DIR"] = data.Path,
            ["CHECKPOINT_ENABLED"] = "true",
            ["RATE"] = "0",
            ["LOOP"] = "true",
            ["MAX_ENTRIES"] = MaxEntries.ToString(),
        };
        var random = new Random(FuzzSettings.Seed);
        var totalTorn = 0;
        var totalDuplicates = 0;
        var totalLost = 0;
        var previousNewest = 0L;
        var clock = Stopwatch.StartNew();

        for (var kill = 1; kill <= Kills; kill++)
        {
            Dictionary<string, (int Samples, DateTime LastSeen)> served;
            using (var host = HostProcess.Start(environment))
            {
                // Wait for this run's own progress (a sample newer than any the previous run left: windows may
                // already be full), then a random while more.
                await host.WaitForNewerThanAsync(previousNewest, TimeSpan.FromSeconds(60));
                await Task.Delay(random.Next(150, 900));
                served = await host.ReadGpusAsync();
                host.KillHard();
                Assert.True(host.HasExited);
            }

            using var store = new SqliteKeyValueStore(database); // opening runs SQLite's WAL recovery
            var report = await WindowAudit.RunAsync(store, MaxEntries);
            var orphans = await WindowAudit.CountOrphanSegmentsAsync(database, store);
            // What the API served before the kill was committed: it must still be there (windows only grow
            // until MAX_ENTRIES, and then stay full).
            var lost = 0;
            foreach (var (uuid, (samples, lastSeen)) in served)
            {
                if (!report.PerGpu.TryGetValue(uuid, out var after)
                    || after.Retained < Math.Min(samples, MaxEntries)
                    || after.LastSeen < lastSeen.Ticks)
                {
                    lost++;
                }
            }
            var newest = report.PerGpu.Values.Max(g => g.LastSeen);
            output.WriteLine($"kill {kill} at {clock.Elapsed.TotalSeconds:F1}s: {report}; {orphans} orphan segments; " +
                             $"{served.Values.Sum(v => v.Samples)} samples served before the kill, {lost} GPUs lost some");
            Assert.True(report.TornWindows == 0 && report.Duplicates == 0, report.ToString());
            Assert.Equal(0, lost);
            Assert.Equal(247, report.Gpus);
            Assert.True(newest > previousNewest, "the restarted host did not ingest anything new");
            totalTorn += report.TornWindows;
            totalDuplicates += report.Duplicates;
            totalLost += lost;
            previousNewest = newest;
        }
        output.WriteLine($"FIGURE crash: {Kills} kills (SIGKILL mid-ingest), {totalTorn} torn windows, {totalDuplicates} duplicates, " +
                         $"{totalLost} GPUs lost served samples, {clock.Elapsed.TotalSeconds:F1}s");
    }
}
