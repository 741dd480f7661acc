using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using static Telemetry.Core.Tests.Csv.CsvTestSupport;

namespace Telemetry.Core.Tests.Csv;

public class NvidiaSmiReaderTests
{
    [Fact]
    public void LogWithUnitsIsDetectedAndUnitsAreStripped()
    {
        using var reader = TelemetryCsvReader.Open(Fixture("nvidia_smi_units.csv"), Options);
        Assert.Equal(CsvFormat.NvidiaSmi, reader.Format);
        var results = reader.ReadAll().ToList();

        var first = results[0].Row!;
        Assert.Equal(new GpuIdentity("GPU-1111", "test-host", 0, "nvidia0", "NVIDIA H100 80GB HBM3", "00000000:18:00.0", "550.54.15"),
            first.Gpu);
        Assert.Equal(new DateTime(2026, 11, 26, 18, 37, 31, 665, DateTimeKind.Utc), first.SourceTimestamp);
        Assert.Equal(DateTimeKind.Utc, first.SourceTimestamp!.Value.Kind);
        Assert.Equal(
        [
            new MetricValue("DCGM_FI_DEV_GPU_UTIL", 45),
            new MetricValue("DCGM_FI_DEV_FB_USED", 1234),
            new MetricValue("DCGM_FI_DEV_POWER_USAGE", 120.5),
            new MetricValue("DCGM_FI_DEV_SM_CLOCK", 1980),
            new MetricValue("nvidia_smi_clocks_current_video", 1755),
            new MetricValue("DCGM_FI_DEV_GPU_TEMP", 41),
            new MetricValue("nvidia_smi_pstate", 0),
            // compute_mode ("Default") and pci.domain are descriptive; fan.speed was [N/A].
        ], first.Metrics);
    }

    [Fact]
    public void MissingValuesAreOmittedNotErrors()
    {
        var rows = ReadFile(Fixture("nvidia_smi_units.csv")).Rows();

        var second = rows[1]; // power.draw [Not Supported], fan.speed [N/A]
        Assert.DoesNotContain(second.Metrics, m => m.Name is "DCGM_FI_DEV_POWER_USAGE" or "DCGM_FI_DEV_FAN_SPEED");
        Assert.Equal(6, second.Metrics.Count);
        Assert.Equal(8, second.Metric("nvidia_smi_pstate"));

        var third = rows[2]; // video clock [N/A], fan reported
        Assert.DoesNotContain(third.Metrics, m => m.Name == "nvidia_smi_clocks_current_video");
        Assert.Equal(30, third.Metric("DCGM_FI_DEV_FAN_SPEED"));
        Assert.Equal(35.1, third.Metric("DCGM_FI_DEV_POWER_USAGE"));
        Assert.Equal("NVIDIA L4", third.Gpu.Model);
        Assert.Equal("nvidia2", third.Gpu.Device);
    }

    [Fact]
    public void BadValueInAUnitColumnIsAnErrorAndNeighboursSurvive()
    {
        var results = ReadFile(Fixture("nvidia_smi_units.csv"));

        Assert.Equal([2L, 3, 4, 5, 7], results.Rows().Select(r => r.LineNumber));
        var error = Assert.Single(results.Errors());
        Assert.Equal(new RowError(Fixture("nvidia_smi_units.csv"), 6, "found 'abc %'; a number was expected", "utilization.gpu [%]"),
            error);
    }

    [Fact]
    public void NoUnitsLogMapsToDcgmNames()
    {
        var rows = ReadFile(Fixture("nvidia_smi_nounits.csv")).Rows();

        var first = rows[0];
        Assert.Equal(
        [
            new MetricValue("DCGM_FI_DEV_GPU_UTIL", 45),
            new MetricValue("DCGM_FI_DEV_MEM_COPY_UTIL", 3),
            new MetricValue("DCGM_FI_DEV_FB_USED", 1234),
            new MetricValue("DCGM_FI_DEV_FB_TOTAL", 81559),
            new MetricValue("DCGM_FI_DEV_POWER_USAGE", 120.5),
            new MetricValue("DCGM_FI_DEV_POWER_MGMT_LIMIT", 700),
            new MetricValue("DCGM_FI_DEV_SM_CLOCK", 1980),
            new MetricValue("DCGM_FI_DEV_MEM_CLOCK", 2619),
            new MetricValue("DCGM_FI_DEV_MEMORY_TEMP", 35),
            new MetricValue("DCGM_FI_DEV_PCIE_LINK_GEN", 5),
            new MetricValue("nvidia_smi_encoder_stats_sessioncount", 0),
        ], first.Metrics);

        // [Not Supported] power, [N/A] and bare N/A memory temperature are left out.
        Assert.Equal(9, rows[1].Metrics.Count);
        Assert.DoesNotContain(rows[1].Metrics, m => m.Name is "DCGM_FI_DEV_POWER_USAGE" or "DCGM_FI_DEV_MEMORY_TEMP");
        Assert.DoesNotContain(rows[2].Metrics, m => m.Name == "DCGM_FI_DEV_MEMORY_TEMP");
        Assert.Equal(1, rows[2].Metric("nvidia_smi_encoder_stats_sessioncount"));
    }

    [Fact]
    public void NoUnitsLogReportsEachBadLineWithItsNumber()
    {
        var results = ReadFile(Fixture("nvidia_smi_nounits.csv"));

        Assert.Equal([2L, 3, 7], results.Rows().Select(r => r.LineNumber));
        var errors = results.Errors();
        Assert.Equal([4L, 5, 6], errors.Select(e => e.LineNumber));
        Assert.Equal(("index", "found 'one'; a non-negative integer GPU index was expected"), (errors[0].Field, errors[0].Reason));
        Assert.Equal((null, "expected 17 fields as in the header but found 14"), (errors[1].Field, errors[1].Reason));
        Assert.Equal("uuid", errors[2].Field);
        Assert.Contains("missing uuid", errors[2].Reason);
    }

    [Fact]
    public void IdentityIsBuiltOncePerGpu()
    {
        var rows = ReadFile(Fixture("nvidia_smi_nounits.csv")).Rows();

        Assert.Same(rows[0].Gpu, rows.Single(r => r.LineNumber == 2).Gpu);
        Assert.Same(rows[1].Gpu, rows[2].Gpu); // GPU-2222 on lines 3 and 7
        Assert.All(rows, r => Assert.Equal("test-host", r.Gpu.Hostname));
    }

    [Fact]
    public void BadTimestampIsAnError()
    {
        var results = ReadText("timestamp, uuid, index, utilization.gpu [%]\n" +
                               "2026/11/26 18:37:31.665, GPU-1, 0, 10 %\n" +
                               "26-11-2026 6pm, GPU-1, 0, 11 %\n" +
                               "2026/11/26 18:37:33.665, GPU-1, 0, 12 %\n");

        Assert.Equal([10.0, 12.0], results.Rows().Select(r => r.Metrics.Single().Value));
        var error = Assert.Single(results.Errors());
        Assert.Equal((3L, "timestamp"), (error.LineNumber, error.Field));
        Assert.Contains("'26-11-2026 6pm'", error.Reason);
    }

    [Fact]
    public void MinimalHeaderWithoutIdentityExtrasStillReads()
    {
        var row = Assert.Single(ReadText("timestamp, uuid, temperature.gpu\n2026/11/26 18:37:31, GPU-9, 40\n")).Row!;

        Assert.Equal(new GpuIdentity("GPU-9", "test-host", -1, "unknown", "unknown"), row.Gpu);
        Assert.Equal([new MetricValue("DCGM_FI_DEV_GPU_TEMP", 40)], row.Metrics);
    }

    [Fact]
    public void TextInAnUnknownColumnWithoutUnitIsIgnored()
    {
        var row = Assert.Single(ReadText(
            "timestamp, uuid, index, display_active, count, pstate\n" +
            "2026/11/26 18:37:31.665, GPU-1, 0, Disabled, 8, P12\n")).Row!;

        Assert.Equal([new MetricValue("nvidia_smi_count", 8), new MetricValue("nvidia_smi_pstate", 12)], row.Metrics);
    }

    [Fact]
    public void AliasColumnsForOneMetricKeepTheFirst()
    {
        var row = Assert.Single(ReadText(
            "timestamp, uuid, clocks.sm [MHz], clocks.current.sm [MHz]\n" +
            "2026/11/26 18:37:31.665, GPU-1, 1500 MHz, 1500 MHz\n")).Row!;

        Assert.Equal([new MetricValue("DCGM_FI_DEV_SM_CLOCK", 1500)], row.Metrics);
    }

    [Fact]
    public void BomAndCrlfAreTolerated()
    {
        var results = ReadText("timestamp, uuid, index, power.draw [W]\r\n" +
                               "2026/11/26 18:37:31.665, GPU-1, 0, 120.50 W\r\n" +
                               "2026/11/26 18:37:32.665, GPU-1, 0, [N/A]\r\n", bom: true);

        Assert.Equal([[new MetricValue("DCGM_FI_DEV_POWER_USAGE", 120.5)], []], results.Rows().Select(r => r.Metrics.ToList()));
        Assert.Equal([2L, 3], results.Rows().Select(r => r.LineNumber));
    }

    [Theory]
    [InlineData("clocks.current.video", "nvidia_smi_clocks_current_video")]
    [InlineData("encoder.stats.averageFps", "nvidia_smi_encoder_stats_averagefps")]
    [InlineData("clocks_event_reasons.hw_slowdown", "nvidia_smi_clocks_event_reasons_hw_slowdown")]
    [InlineData("a--b..", "nvidia_smi_a_b")]
    public void UnmappedColumnsGetNormalisedNames(string field, string expected) =>
        Assert.Equal(expected, Telemetry.Core.Csv.NvidiaSmiRowParser.NormalisedName(field));
}
