using System.Text;
using System.Text.Json;
using Telemetry.Core.Model;
using Telemetry.Core.Windows;

namespace Telemetry.Core.Tests.Segments;

/// <summary>The manifest's compact rows (segments as <c>[id, n, from, span, skip]</c>, latest values as
/// <c>[metric, time, value]</c>, times relative to a neighbour): every field comes back exactly, manifests in the
/// object form of earlier versions are still read, and the rows make the manifest — rewritten on every append — a
/// good deal smaller.</summary>
public sealed class ManifestFormatTests
{
    private static readonly GpuIdentity Gpu = new("GPU-6c8915d7-f04d-beb9-3e8a-e06f97ca4480", "mtv5-dgx1-hgpu-031", 2, "nvidia2",
        "NVIDIA H100 80GB HBM3", null, "535.129.03");

    /// <summary>A manifest as the reference data leaves it (taken from a store after a run), in the object form
    /// the previous version wrote.</summary>
    private const string ObjectForm = """
        {"gpu":{"uuid":"GPU-6c8915d7-f04d-beb9-3e8a-e06f97ca4480","hostname":"mtv5-dgx1-hgpu-031","gpu_index":2,"device":"nvidia2","model":"NVIDIA H100 80GB HBM3","driver_version":"535.129.03"},"first_seen":639320514343920879,"last_seen":639320514405545055,"next_segment":134,"segments":[{"id":"58-2145b84d","n":1750,"from":639320514381152799,"to":639320514385393968,"skip":1308},{"id":"66-704b3999","n":1997,"from":639320514385395654,"to":639320514389921124,"skip":0},{"id":"73-b8126787","n":2003,"from":639320514389921429,"to":639320514393161432,"skip":0},{"id":"75-267ef700","n":688,"from":639320514393197312,"to":639320514394754808,"skip":0},{"id":"78-a6177f81","n":1427,"from":639320514394755460,"to":639320514397342672,"skip":0},{"id":"7c-d57df1ac","n":1294,"from":639320514397344209,"to":639320514400413599,"skip":0},{"id":"82-cd17fe88","n":1558,"from":639320514400415230,"to":639320514403794458,"skip":0},{"id":"83-f6d04a60","n":253,"from":639320514403809256,"to":639320514404319093,"skip":0},{"id":"84-c3e6d34b","n":250,"from":639320514404320974,"to":639320514404727326,"skip":0},{"id":"85-3b37a1bd","n":88,"from":639320514404760181,"to":639320514405545055,"skip":0}],"latest":{"DCGM_FI_DEV_SM_CLOCK":{"t":639320514405537896,"v":345},"DCGM_FI_DEV_ENC_UTIL":{"t":639320514405545055,"v":0},"DCGM_FI_DEV_DEC_UTIL":{"t":639320514405544188,"v":0},"DCGM_FI_DEV_FB_FREE":{"t":639320514405543295,"v":81000},"DCGM_FI_DEV_FB_USED":{"t":639320514405542994,"v":7},"DCGM_FI_DEV_GPU_TEMP":{"t":639320514405542118,"v":30},"DCGM_FI_DEV_POWER_USAGE":{"t":639320514405541179,"v":71.483},"DCGM_FI_DEV_MEM_COPY_UTIL":{"t":639320514405540352,"v":0},"DCGM_FI_DEV_GPU_UTIL":{"t":639320514405540073,"v":0},"DCGM_FI_DEV_MEM_CLOCK":{"t":639320514405538195,"v":2619}}}
        """;

    [Fact]
    public void A_manifest_in_the_object_form_of_earlier_versions_reads_in_full()
    {
        var manifest = WindowCodec.DecodeManifest(Encoding.UTF8.GetBytes(ObjectForm));

        Assert.Equal(Gpu, manifest.Gpu);
        Assert.Equal(134, manifest.NextSegment);
        Assert.Equal(10, manifest.Segments.Count);
        Assert.Equal(new SegmentRef("58-2145b84d", 1750, 639320514381152799, 639320514385393968, 1308), manifest.Segments[0]);
        Assert.Equal(new SegmentRef("85-3b37a1bd", 88, 639320514404760181, 639320514405545055), manifest.Segments[^1]);
        Assert.Equal(10, manifest.Latest!.Count);
        Assert.Equal(new LatestValue(639320514405541179, 71.483), manifest.Latest["DCGM_FI_DEV_POWER_USAGE"]);
        Assert.Equal(new LatestValue(639320514405545055, 0), manifest.Latest["DCGM_FI_DEV_ENC_UTIL"]);
    }

    [Fact]
    public void Rows_round_trip_every_field_and_old_manifests_are_rewritten_as_rows()
    {
        var old = WindowCodec.DecodeManifest(Encoding.UTF8.GetBytes(ObjectForm));
        // Awkward cases beside the reference data: a gap of zero, a segment of one instant, times going back,
        // a fractional and a non-finite latest value, the garbage list.
        old.Segments.Add(new SegmentRef("86-00000000", 1, old.Segments[^1].To, old.Segments[^1].To));
        old.Latest!["older"] = new LatestValue(old.FirstSeen - 1, -0.125);
        old.Latest["nan"] = new LatestValue(old.LastSeen, double.NaN);
        old.Latest["inf"] = new LatestValue(old.LastSeen + 7, double.NegativeInfinity);
        old.Garbage = ["57-1", "57-2"];

        var bytes = WindowCodec.Encode(old);
        var text = Encoding.UTF8.GetString(bytes);
        var back = WindowCodec.DecodeManifest(bytes);

        Assert.Contains("\"segments\":[[\"58-2145b84d\",1750,639320514381152799,4241169,1308],[\"66-704b3999\",1997,1686,4525470]", text);
        Assert.Equal(old.Gpu, back.Gpu);
        Assert.Equal((old.FirstSeen, old.LastSeen, old.NextSegment), (back.FirstSeen, back.LastSeen, back.NextSegment));
        Assert.Equal(old.Segments, back.Segments);
        Assert.Equal(old.Garbage, back.Garbage);
        Assert.Equal(old.Latest.OrderBy(kv => kv.Key), back.Latest!.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Rows_take_well_under_two_thirds_of_the_object_form()
    {
        var rows = WindowCodec.Encode(WindowCodec.DecodeManifest(Encoding.UTF8.GetBytes(ObjectForm)));

        // Measured: 1,742 bytes in the object form, 999 as rows. The manifest is rewritten on every append, so this
        // is most of figure 3's bytes written per sample.
        Assert.True(rows.Length < ObjectForm.Trim().Length * 0.62, $"{rows.Length} bytes as rows against {ObjectForm.Trim().Length}");
    }

    [Theory]
    [InlineData("""{"gpu":{"uuid":"u","hostname":"h","gpu_index":0,"device":"d","model":"m"},"segments":[["a",1,2,3,4,5]]}""", "more than five")]
    [InlineData("""{"gpu":{"uuid":"u","hostname":"h","gpu_index":0,"device":"d","model":"m"},"segments":[7]}""", "row or an object")]
    [InlineData("""{"gpu":{"uuid":"u","hostname":"h","gpu_index":0,"device":"d","model":"m"},"latest":[["m",1,2,3]]}""", "more than three")]
    public void A_damaged_manifest_is_refused_with_what_was_wrong(string json, string expected)
    {
        var error = Assert.ThrowsAny<JsonException>(() => WindowCodec.DecodeManifest(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(expected, error.Message);
    }
}
