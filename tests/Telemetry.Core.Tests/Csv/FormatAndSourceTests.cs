using System.Text;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;
using static Telemetry.Core.Tests.Csv.CsvTestSupport;

namespace Telemetry.Core.Tests.Csv;

public class FormatAndSourceTests
{
    [Theory]
    [InlineData("dcgm_small.csv", CsvFormat.Dcgm)]
    [InlineData("nvidia_smi_units.csv", CsvFormat.NvidiaSmi)]
    [InlineData("nvidia_smi_nounits.csv", CsvFormat.NvidiaSmi)]
    public void FormatIsDetectedFromTheHeader(string fixture, CsvFormat expected)
    {
        using var reader = TelemetryCsvReader.Open(Fixture(fixture), Options);
        Assert.Equal(expected, reader.Format);
        Assert.Equal(Fixture(fixture), reader.SourceName);
    }

    [Fact]
    public void MissingFileNamesTheFileAndTheReason()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid(), "x.csv");
        var e = Assert.Throws<CsvSourceException>(() => TelemetryCsvReader.Open(path, Options));
        Assert.Equal($"CSV file '{path}' cannot be read: directory not found", e.Message);

        var file = Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".csv");
        e = Assert.Throws<CsvSourceException>(() => TelemetryCsvReader.Open(file, Options));
        Assert.Equal($"CSV file '{file}' cannot be read: file not found", e.Message);
        Assert.IsAssignableFrom<TelemetryCsvException>(e);
    }

    [Fact]
    public void DirectoryIsNotReadable()
    {
        var dir = Path.GetTempPath();
        var e = Assert.Throws<CsvSourceException>(() => TelemetryCsvReader.Open(dir, Options));
        Assert.StartsWith($"CSV file '{dir}' cannot be read: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnrecognisedHeaderNamesTheFileAndWhatWasExpected()
    {
        var path = Fixture("not_telemetry.csv");
        var e = Assert.Throws<UnrecognisedCsvException>(() => TelemetryCsvReader.Open(path, Options));
        Assert.StartsWith($"CSV file '{path}' has an unrecognised header 'just,some,other'", e.Message);
        Assert.Contains("timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname", e.Message);
        Assert.Contains("nvidia-smi --query-gpu header containing 'timestamp' and 'uuid'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EmptyFileIsUnrecognised()
    {
        var path = Fixture("empty.csv");
        var e = Assert.Throws<UnrecognisedCsvException>(() => TelemetryCsvReader.Open(path, Options));
        Assert.StartsWith($"CSV file '{path}' is empty; expected a DCGM header", e.Message);
    }

    [Fact]
    public void DcgmHeaderIsCaseSensitive()
    {
        var upload = "Timestamp,Metric_Name,GPU_ID,Device,UUID,ModelName,hostname,Value\n";
        var e = Assert.Throws<UnrecognisedCsvException>(() => ReadText(upload, name: "shouty.csv"));
        Assert.StartsWith("CSV file 'shouty.csv' has an unrecognised header", e.Message);
    }

    [Fact]
    public void DcgmHeaderMissingAColumnSaysWhich()
    {
        var e = Assert.Throws<UnrecognisedCsvException>(() =>
            ReadText("timestamp,metric_name,gpu_id,device,modelName,Hostname,value\n", name: "partial.csv"));
        Assert.StartsWith("CSV file 'partial.csv' looks like DCGM but lacks column(s) uuid;", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomBytesAreAnUnrecognisedHeader(int seed)
    {
        var bytes = new byte[200_000];
        new Random(seed).NextBytes(bytes);
        using var stream = new MemoryStream(bytes);
        var e = Assert.Throws<UnrecognisedCsvException>(() => TelemetryCsvReader.Open(stream, "noise.bin", Options));
        Assert.StartsWith("CSV file 'noise.bin' ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnUnclosedQuoteCannotMakeTheReaderBufferAHugeFile()
    {
        // A quote that never closes would make the whole input one record.
        var bytes = Encoding.UTF8.GetBytes("\"" + new string('x', 3 << 20));
        using var stream = new MemoryStream(bytes);
        var e = Assert.Throws<UnrecognisedCsvException>(() => TelemetryCsvReader.Open(stream, "unclosed.csv", Options));
        Assert.StartsWith("CSV file 'unclosed.csv' has no readable header", e.Message);
    }

    [Fact]
    public void AnUnclosedQuoteInADataLineIsReportedAfterTheGoodRows()
    {
        var text = "timestamp, uuid, temperature.gpu\n2026/11/26 18:37:31, GPU-9, 40\n2026/11/26 18:37:32, \"GPU-9, " +
                   new string('x', 2 << 20);
        var results = ReadText(text);

        Assert.Equal(2, results.Count);
        Assert.Equal(2, results[0].Row!.LineNumber);
        Assert.Equal(3, results[1].Error!.LineNumber);
        Assert.Contains("unreadable from here on", results[1].Error!.Reason);
    }

    [Fact]
    public void UploadStreamIsLeftOpenForItsOwner()
    {
        var stream = new MemoryStream(Encoding.UTF8.GetBytes("timestamp, uuid\n"));
        using (var reader = TelemetryCsvReader.Open(stream, "upload.csv", Options))
            Assert.Empty(reader.ReadAll());
        Assert.True(stream.CanRead);
    }

    [Fact]
    public void AnIoFailureMidFileIsASourceErrorNamingTheFile()
    {
        var head = Encoding.UTF8.GetBytes("timestamp, uuid, temperature.gpu\n" +
                                          string.Concat(Enumerable.Repeat("2026/11/26 18:37:31, GPU-9, 40\n", 5000)));
        using var stream = new FailingStream(head);
        using var reader = TelemetryCsvReader.Open(stream, "flaky.csv", Options);

        var e = Assert.Throws<CsvSourceException>(() => reader.ReadAll().Count());
        Assert.Equal("CSV file 'flaky.csv' cannot be read: disk on fire", e.Message);
    }

    [Fact]
    public void AWriteOnlyStreamIsRefused()
    {
        using var stream = new FileStream(Path.GetTempFileName(), FileMode.Open, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        var e = Assert.Throws<CsvSourceException>(() => TelemetryCsvReader.Open(stream, "wo.csv", Options));
        Assert.Equal("CSV file 'wo.csv' cannot be read: the stream is not readable", e.Message);
    }

    [Fact]
    public void StreamAndFileReadTheSame()
    {
        using var stream = File.OpenRead(ReferenceFile);
        using var reader = TelemetryCsvReader.Open(stream, "upload.csv", Options);
        var fromStream = reader.ReadAll().Select(r => (r.Row!.Gpu, r.Row.SourceTimestamp, r.Row.Metrics[0], r.Row.LineNumber)).ToList();
        var fromFile = ReadFile(ReferenceFile).Select(r => (r.Row!.Gpu, r.Row.SourceTimestamp, r.Row.Metrics[0], r.Row.LineNumber)).ToList();

        Assert.Equal(fromFile, fromStream);
    }

    /// <summary>Serves <c>data</c>, then fails the way a dying disk or a dropped upload does.</summary>
    private sealed class FailingStream(byte[] data) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) =>
            Position >= Length ? throw new IOException("disk on fire") : base.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) =>
            Position >= Length ? throw new IOException("disk on fire") : base.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Position >= Length ? throw new IOException("disk on fire") : base.ReadAsync(buffer, cancellationToken);
    }

    [Fact]
    public void RowErrorFormatsAsFileLineFieldReason()
    {
        Assert.Equal("a.csv:7: field 'value': found 'x'; a number was expected",
            new RowError("a.csv", 7, "found 'x'; a number was expected", "value").ToString());
    }
}
