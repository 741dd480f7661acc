using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using static Telemetry.Core.Tests.Csv.CsvTestSupport;

namespace Telemetry.Core.Tests.Csv;

public class DcgmReaderTests
{
    private const string Header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

    [Fact]
    public void ReferenceFileReadsEveryRowWithoutErrors()
    {
        using var reader = TelemetryCsvReader.Open(ReferenceFile, Options);
        Assert.Equal(CsvFormat.Dcgm, reader.Format);
        var results = reader.ReadAll().ToList();

        var rows = results.Rows();
        Assert.Empty(results.Errors());
        Assert.Equal(2470, rows.Count);
        Assert.Equal(247, rows.Select(r => r.Gpu.Uuid).Distinct().Count());
        Assert.Equal(31, rows.Select(r => r.Gpu.Hostname).Distinct().Count());
        Assert.Equal(10, rows.Select(r => r.Metrics[0].Name).Distinct().Count());
        Assert.All(rows, r => Assert.Single(r.Metrics));
        Assert.All(rows, r => Assert.Equal(DateTimeKind.Utc, r.SourceTimestamp!.Value.Kind));
        // One data line per physical line after the header.
        Assert.Equal(Enumerable.Range(2, 2470).Select(i => (long)i), rows.Select(r => r.LineNumber));
    }

    [Fact]
    public void ReferenceFileFirstRowIsMappedFieldByField()
    {
        var first = ReadFile(ReferenceFile)[0].Row!;

        Assert.Equal(new GpuIdentity("GPU-5fd4f087-86f3-7a43-b711-4771313afc50", "mtv5-dgx1-hgpu-031", 0, "nvidia0",
            "NVIDIA H100 80GB HBM3", null, "535.129.03"), first.Gpu);
        Assert.Equal(new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc), first.SourceTimestamp);
        Assert.Equal([new MetricValue("DCGM_FI_DEV_GPU_UTIL", 0)], first.Metrics);
        Assert.Equal(2, first.LineNumber);
    }

    [Fact]
    public void ReferenceFileSharesIdentityAndNameInstancesAcrossRows()
    {
        var rows = ReadFile(ReferenceFile).Rows();

        // One GpuIdentity object per GPU and one string per metric name: rows are cheap to hold in memory.
        Assert.Equal(247, rows.Select(r => r.Gpu).Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal(10, rows.Select(r => r.Metrics[0].Name).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void SmallFileYieldsGoodRowsAroundEveryKindOfBadLine()
    {
        var results = ReadFile(Fixture("dcgm_small.csv"));

        // One result per data line, in file order (the record on line 11 spans lines 11-12).
        Assert.Equal([2L, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14],
            results.Select(r => r.Row?.LineNumber ?? r.Error!.LineNumber));

        var rows = results.Rows();
        Assert.Equal([2L, 3, 5, 9, 11, 14], rows.Select(r => r.LineNumber));
        Assert.Equal([42, 2048.5, 123.25, 55, 1980, 1593], rows.Select(r => r.Metrics.Single().Value));
        Assert.Equal(["GPU-aaaa", "GPU-bbbb", "GPU-aaaa", "GPU-cccc", "GPU-cccc", "GPU-bbbb"], rows.Select(r => r.Gpu.Uuid));

        var errors = results.Errors();
        Assert.All(errors, e => Assert.Equal(Fixture("dcgm_small.csv"), e.File));
        Assert.Equal([4L, 6, 7, 8, 10, 13], errors.Select(e => e.LineNumber));
        Assert.Equal([null, "value", "uuid", "timestamp", "gpu_id", "value"], errors.Select(e => e.Field));

        Assert.Equal("expected 12 fields as in the header but found 11", errors[0].Reason);
        Assert.Equal("found 'abc'; a number was expected", errors[1].Reason);
        Assert.Contains("missing uuid", errors[2].Reason);
        Assert.Contains("'yesterday'", errors[3].Reason);
        Assert.Contains("timestamp was expected", errors[3].Reason);
        Assert.Contains("'x1'", errors[4].Reason);
        Assert.Contains("integer", errors[4].Reason);
        Assert.Equal("found ''; a number was expected", errors[5].Reason);
        Assert.Equal($"{Fixture("dcgm_small.csv")}:6: field 'value': found 'abc'; a number was expected", errors[1].ToString());
    }

    [Fact]
    public void TimestampsWithOffsetsBecomeUtc()
    {
        var rows = ReadFile(Fixture("dcgm_small.csv")).Rows();

        var withOffset = rows.Single(r => r.LineNumber == 9);
        Assert.Equal(new DateTime(2025, 7, 18, 20, 42, 36, DateTimeKind.Utc), withOffset.SourceTimestamp);
        Assert.Equal(DateTimeKind.Utc, withOffset.SourceTimestamp!.Value.Kind);
    }

    [Fact]
    public void DriverVersionComesFromLabelsRawWhenPresent()
    {
        var rows = ReadFile(Fixture("dcgm_small.csv")).Rows();

        Assert.Equal("535.129.03", rows.Single(r => r.LineNumber == 2).Gpu.DriverVersion);
        Assert.Null(rows.Single(r => r.LineNumber == 9).Gpu.DriverVersion); // empty labels_raw
        // The label after a multi-line quoted label is still found.
        Assert.Equal("550.54.15", rows.Single(r => r.LineNumber == 11).Gpu.DriverVersion);
    }

    [Fact]
    public void ColumnsAreFoundByNameInAnyOrderAndLabelsAreOptional()
    {
        var results = ReadText(
            "value,Hostname,uuid,gpu_id,metric_name,timestamp,device,modelName\n" +
            "17.5,h9,GPU-z,3,DCGM_FI_DEV_GPU_UTIL,2025-07-18T20:42:34.250Z,nvidia3,L40S\n");

        var row = Assert.Single(results).Row!;
        Assert.Equal(new GpuIdentity("GPU-z", "h9", 3, "nvidia3", "L40S"), row.Gpu);
        Assert.Equal(17.5, row.Metric("DCGM_FI_DEV_GPU_UTIL"));
        Assert.Equal(new DateTime(2025, 7, 18, 20, 42, 34, 250, DateTimeKind.Utc), row.SourceTimestamp);
    }

    [Fact]
    public void SameUuidUnderAnotherHostIsAnotherIdentity()
    {
        string Line(string host, string gpuId) =>
            $"\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"{gpuId}\",\"nvidia{gpuId}\",\"GPU-a\",\"H100\",\"{host}\",\"\",\"\",\"\",\"1\",\"\"\n";
        var rows = ReadText(Header + "\n" + Line("h1", "0") + Line("h2", "0") + Line("h1", "3") + Line("h1", "0")).Rows();

        Assert.Equal(["h1", "h2", "h1", "h1"], rows.Select(r => r.Gpu.Hostname));
        Assert.Equal([0, 0, 3, 0], rows.Select(r => r.Gpu.GpuIndex));
        Assert.Same(rows[0].Gpu, rows[3].Gpu);
        Assert.NotEqual(rows[0].Gpu, rows[1].Gpu);
    }

    [Fact]
    public void BomAndCrlfAreTolerated()
    {
        var text = Header + "\r\n" +
                   "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\",\"nvidia0\",\"GPU-a\",\"H100\",\"h1\",\"\",\"\",\"\",\"12\",\"\"\r\n" +
                   "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"1\",\"nvidia1\",\"GPU-b\",\"H100\",\"h1\",\"\",\"\",\"\",\"bad\",\"\"\r\n" +
                   "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"2\",\"nvidia2\",\"GPU-c\",\"H100\",\"h1\",\"\",\"\",\"\",\"13\",\"\"\r\n";

        using var stream = new MemoryStream([0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(text)]);
        using var reader = TelemetryCsvReader.Open(stream, "crlf.csv", Options);
        Assert.Equal(CsvFormat.Dcgm, reader.Format);
        var results = reader.ReadAll().ToList();

        Assert.Equal([12.0, 13.0], results.Rows().Select(r => r.Metrics[0].Value));
        Assert.Equal([2L, 4], results.Rows().Select(r => r.LineNumber));
        var error = Assert.Single(results.Errors());
        Assert.Equal(new RowError("crlf.csv", 3, "found 'bad'; a number was expected", "value"), error);
    }

    [Fact]
    public void RepeatedHeaderLinesFromConcatenatedDumpsAreSkipped()
    {
        var line = "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\",\"nvidia0\",\"GPU-a\",\"H100\",\"h1\",\"\",\"\",\"\",\"12\",\"\"\n";
        var results = ReadText(Header + "\n" + line + Header + "\n" + line);

        Assert.Equal([2L, 4], results.Select(r => r.Row!.LineNumber));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1,5")]
    [InlineData("12 %")]
    public void NonFiniteOrLocalisedValuesAreErrors(string value)
    {
        var results = ReadText(Header + "\n" +
            $"\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\",\"nvidia0\",\"GPU-a\",\"H100\",\"h1\",\"\",\"\",\"\",\"{value}\",\"\"\n");

        var error = Assert.Single(results).Error!;
        Assert.Equal("value", error.Field);
        Assert.Equal($"found '{value}'; a number was expected", error.Reason);
    }

    [Fact]
    public void ReadAllCanOnlyBeEnumeratedOnce()
    {
        using var reader = TelemetryCsvReader.Open(Fixture("dcgm_small.csv"), Options);
        _ = reader.ReadAll();
        Assert.Throws<InvalidOperationException>(() => reader.ReadAll());
    }
}
