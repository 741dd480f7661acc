using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Telemetry.Core.Model;

namespace Telemetry.Core.Tests.Model;

/// <summary>The wire format as the serializer wrote it before samples had a converter of their own: the reference
/// the converter must match byte for byte.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TelemetryBatch))]
internal sealed partial class SerializerOnlyContext : JsonSerializerContext;

public sealed class TelemetryJsonWireTests
{
    private static readonly GpuIdentity Gpu = new("GPU-1", "host-ä", 3, "nvidia3", "H100", DriverVersion: "535.1");

    private static TelemetryBatch Batch() => new("b-1",
    [
        new GpuSamples(Gpu,
        [
            new MetricSample(new DateTime(2026, 11, 26, 21, 32, 30, DateTimeKind.Utc).AddTicks(1234567), "DCGM_FI_DEV_GPU_UTIL", 87, new DateTime(2025, 7, 18, 13, 42, 33, DateTimeKind.Utc)),
            new MetricSample(new DateTime(2026, 11, 26, 21, 32, 30, DateTimeKind.Utc), "température_gpu", 0.1 + 0.2, null),
            new MetricSample(DateTime.MaxValue.ToUniversalTime(), "x", -1.5e-300, DateTime.MinValue),
            new MetricSample(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc), "DCGM_FI_DEV_FB_USED", double.MaxValue, null),
        ]),
    ]);

    [Fact]
    public void Batches_are_written_exactly_as_the_serializer_wrote_them()
    {
        var batch = Batch();
        Assert.Equal(
            Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(batch, SerializerOnlyContext.Default.TelemetryBatch)),
            Encoding.UTF8.GetString(TelemetryJson.Serialize(batch)));
    }

    [Fact]
    public void What_is_written_reads_back_the_same_from_bytes_and_from_inside_a_larger_document()
    {
        var batch = Batch();
        var json = TelemetryJson.Serialize(batch);

        Assert.True(TelemetryJson.TryDeserialize(json, out var fromBytes, out var problem), problem);
        var (fromDocument, after) = ReadInside(json);
        Assert.True(fromDocument is not null, after);
        Assert.Equal("after", after);

        foreach (var read in new[] { fromBytes!, fromDocument })
        {
            Assert.Equal("b-1", read.BatchId);
            Assert.Equal(Gpu, read.Gpus[0].Gpu);
            Assert.Equal(batch.Gpus[0].Samples, read.Gpus[0].Samples);
        }
    }

    /// <summary>A batch as a bulk delivery carries it: a property of a larger document, read where it lies. Returns the
    /// batch and the name of the property after it (the reader must be left on the batch's last token), or null and
    /// the problem.</summary>
    private static (TelemetryBatch? Batch, string After) ReadInside(byte[] batch)
    {
        var document = Encoding.UTF8.GetBytes($$"""{"before":[1,{"x":2}],"data":{{Encoding.UTF8.GetString(batch)}},"after":3}""");
        var reader = new Utf8JsonReader(document);
        reader.Read();
        reader.Read();
        reader.Skip();
        reader.Read();
        reader.Read();
        var valid = TelemetryJson.TryRead(ref reader, out var read, out var problem);
        reader.Read();
        var after = reader.GetString()!;
        return valid ? (read, after) : (null, $"{problem} / then {after}");
    }

    [Fact]
    public void Properties_may_come_in_any_order_and_unknown_ones_are_skipped()
    {
        var json = """
            {"gpus":[{"samples":[{"value":2.5,"extra":{"nested":[1,2]},"source_timestamp":null,"metric_name":"m","timestamp":"2026-01-02T03:04:05Z"}],
              "gpu":{"uuid":"GPU-9","hostname":"h","gpu_index":0,"device":"nvidia0","model":"A100"}}],"batch_id":"b-2"}
            """u8;

        Assert.True(TelemetryJson.TryDeserialize(json, out var batch, out var problem), problem);
        Assert.Equal(new MetricSample(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), "m", 2.5, null), batch!.Gpus[0].Samples[0]);
    }

    [Theory]
    [InlineData("""{"metric_name":"m","value":1}""")]                                  // no timestamp
    [InlineData("""{"timestamp":"2026-01-02T03:04:05Z","value":1}""")]                 // no metric name
    [InlineData("""{"timestamp":"2026-01-02T03:04:05Z","metric_name":null,"value":1}""")]
    [InlineData("""{"timestamp":"2026-01-02T03:04:05Z","metric_name":"m"}""")]         // no value
    [InlineData("""{"timestamp":"2026-01-02T03:04:05Z","metric_name":"m","value":"1"}""")]
    [InlineData("""{"timestamp":"yesterday","metric_name":"m","value":1}""")]
    [InlineData("""{"timestamp":"2026-01-02T03:04:05Z","metric_name":7,"value":1}""")]
    [InlineData("""[1,2]""")]
    public void A_sample_the_serializer_refused_is_still_refused(string sample)
    {
        var json = $$"""{"batch_id":"b","gpus":[{"gpu":{"uuid":"u","hostname":"h","gpu_index":0,"device":"d","model":"m"},"samples":[{{sample}}]}]}""";

        Assert.False(TelemetryJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out _, out var problem));
        Assert.StartsWith("not a telemetry batch", problem);

        // Read in place it is refused with the same words, and the rest of the document can still be read.
        var (read, outcome) = ReadInside(Encoding.UTF8.GetBytes(json));
        Assert.Null(read);
        Assert.Equal($"{problem} / then after", outcome);
    }

    [Fact]
    public void Samples_of_one_metric_share_one_name_string()
    {
        var json = TelemetryJson.Serialize(Batch() with { Gpus = [new GpuSamples(Gpu, [.. Enumerable.Range(0, 3).Select(i =>
            new MetricSample(new DateTime(2026, 1, 1, 0, 0, i, DateTimeKind.Utc), "DCGM_FI_DEV_POWER_USAGE", i, null))])] });

        Assert.True(TelemetryJson.TryDeserialize(json, out var batch, out _));
        var samples = batch!.Gpus[0].Samples;
        Assert.Same(samples[0].MetricName, samples[1].MetricName);
        Assert.Same(samples[0].MetricName, samples[2].MetricName);
    }
}
