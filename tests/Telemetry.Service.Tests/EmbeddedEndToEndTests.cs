using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Core.Csv;
using Telemetry.Service.Tests.Support;
using Telemetry.Streamer;
using Telemetry.Testing;

namespace Telemetry.Service.Tests;

/// <summary>The embedded host streams the reference file once; everything it holds is then read back over REST.</summary>
public sealed class EmbeddedEndToEndTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();

    private Dictionary<string, string?> Settings(string csvFile, bool checkpoint) => new()
    {
        ["CSV_FILE"] = csvFile,
        ["RATE"] = "0",
        ["LOOP"] = "false",
        ["CHECKPOINT_ENABLED"] = checkpoint ? "true" : "false",
        ["DATA_DIR"] = Path.Combine(_dir.Path, "data"),
        ["LOG_LEVEL"] = "Warning",
    };

    [Fact]
    public async Task Reference_file_is_ingested_once_served_over_rest_and_survives_a_restart_with_checkpointing()
    {
        // What the file holds, read independently of the pipeline: uuid -> "metric=value@source time" list.
        // (The file's rows carry source times 20:42:34 to 20:42:37, not one instant.)
        var expected = new Dictionary<string, List<string>>();
        using (var reader = TelemetryCsvReader.Open(Dcgm.ReferenceFile, TelemetryCsvOptions.Default))
        {
            foreach (var result in reader.ReadAll())
            {
                var row = result.Row!;
                foreach (var metric in row.Metrics)
                {
                    if (!expected.TryGetValue(row.Gpu.Uuid, out var list)) expected[row.Gpu.Uuid] = list = [];
                    list.Add($"{metric.Name}={metric.Value.ToString(CultureInfo.InvariantCulture)}@{row.SourceTimestamp:yyyy-MM-dd'T'HH:mm:ss'Z'}");
                }
            }
        }
        Assert.Equal(247, expected.Count);

        await using (var host = new EmbeddedFactory(Settings(Dcgm.ReferenceFile, checkpoint: true)))
        {
            using var api = host.ClientOn(EmbeddedFactory.ApiPort);
            var status = host.Services.GetRequiredService<StreamerStatus>();
            await Eventually.CompletesAsync(status.Finished, "the streamer finishing its single pass", Timeout);
            Assert.Equal(2470, status.RowsRead);
            Assert.Equal(0, status.RowsRejected);
            Assert.Equal(2470, status.RowsPublished);
            Assert.Equal(1, status.PassesCompleted);
            await Waiting.WaitForStoredAsync(api, 2470, Timeout);

            // 247 GPUs, paged 100 at a time, in hostname/index order, none twice.
            var gpus = await Waiting.AllGpusAsync(api, limit: 100);
            Assert.Equal(247, gpus.Count);
            Assert.Equal(247, gpus.Select(g => (string)g["id"]!).Distinct().Count());
            var order = gpus.Select(g => ((string)g["hostname"]!, (int)g["gpu_index"]!)).ToList();
            Assert.Equal(order.OrderBy(o => o.Item1, StringComparer.Ordinal).ThenBy(o => o.Item2).ToList(), order);
            Assert.All(gpus, g => Assert.Equal(10, (int)g["samples"]!));

            var hosts = await api.GetJsonAsync("/api/v1/hosts");
            Assert.Equal(31, (int)hosts["total"]!);
            Assert.Equal(247, hosts["hosts"].Items(h => (int)h["gpu_count"]!).Sum());

            foreach (var gpu in gpus)
            {
                var id = (string)gpu["id"]!;
                var body = await api.GetJsonAsync($"/api/v1/gpus/{id}/telemetry");
                var data = body["data"]!.AsArray();
                Assert.Equal(10, data.Count);
                var times = data.Select(p => DateTime.Parse((string)p!["timestamp"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal)).ToList();
                for (var i = 1; i < times.Count; i++) Assert.True(times[i] > times[i - 1], $"{id}: samples not strictly time-ordered");
                Assert.All(data, p => Assert.StartsWith("2025-07-18T20:42:3", (string)p!["source_timestamp"]!));
                var values = data.Select(p => $"{(string)p!["metric_name"]!}={((double)p["value"]!).ToString(CultureInfo.InvariantCulture)}@{(string)p["source_timestamp"]!}").Order().ToList();
                Assert.Equal(expected[id].Order().ToList(), values);
            }
        }

        // A new host on the same DATA_DIR, streaming nothing, still serves everything.
        var empty = _dir.File("empty.csv", Dcgm.File([]));
        await using (var restarted = new EmbeddedFactory(Settings(empty, checkpoint: true)))
        {
            using var api = restarted.ClientOn(EmbeddedFactory.ApiPort);
            Assert.Equal(247, (await Waiting.AllGpusAsync(api)).Count);
            Assert.Equal(2470, await Waiting.StoredSamplesAsync(api));
            Assert.Equal(31, (int)(await api.GetJsonAsync("/api/v1/hosts"))["total"]!);
        }
    }

    [Fact]
    public async Task Without_checkpointing_nothing_survives_a_restart_and_no_database_is_written()
    {
        var csv = _dir.File("small.csv", Dcgm.File(Dcgm.NumberedRows(40)));
        await using (var host = new EmbeddedFactory(Settings(csv, checkpoint: false)))
        {
            using var api = host.ClientOn(EmbeddedFactory.ApiPort);
            await Eventually.CompletesAsync(host.Services.GetRequiredService<StreamerStatus>().Finished, "the streamer finishing", Timeout);
            await Waiting.WaitForStoredAsync(api, 40, Timeout);
        }
        await using (var restarted = new EmbeddedFactory(Settings(_dir.File("empty.csv", Dcgm.File([])), checkpoint: false)))
        {
            using var api = restarted.ClientOn(EmbeddedFactory.ApiPort);
            var body = await api.GetJsonAsync("/api/v1/gpus");
            Assert.Equal(0, (int)body["total"]!);
            Assert.Equal(0, (int)(await api.GetJsonAsync("/api/v1/hosts"))["total"]!);
        }
        Assert.False(File.Exists(Path.Combine(_dir.Path, "data", "telemetry.db")));
    }

    public void Dispose() => _dir.Dispose();
}
