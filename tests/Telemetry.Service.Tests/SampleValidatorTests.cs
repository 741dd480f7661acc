using Telemetry.Collector;
using Telemetry.Core.Model;

namespace Telemetry.Service.Tests;

/// <summary>The identifier rule the vectorised check implements: no control character (char.IsControl: U+0000–U+001F,
/// U+007F–U+009F), no '|', not blank, at most 256 characters.</summary>
public sealed class SampleValidatorTests
{
    private static readonly DateTime Now = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);

    private static string? Check(string metric) => SampleValidator.CheckSample(new MetricSample(Now, metric, 1, null), Now);

    [Fact]
    public void Every_character_is_refused_exactly_when_it_is_a_control_character_or_a_bar()
    {
        for (var c = 0; c <= char.MaxValue; c++)
        {
            var name = $"DCGM{(char)c}UTIL";
            var refused = char.IsControl((char)c) || c == '|';
            Assert.True(refused == (Check(name) == "invalid_metric_name"), $"U+{c:X4}: expected {(refused ? "refused" : "accepted")}");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Blank_names_are_refused(string name) => Assert.Equal("invalid_metric_name", Check(name));

    [Fact]
    public void Length_is_capped()
    {
        Assert.Null(Check(new string('a', SampleValidator.MaxIdentifierLength)));
        Assert.Equal("invalid_metric_name", Check(new string('a', SampleValidator.MaxIdentifierLength + 1)));
    }

    [Fact]
    public void A_uuid_with_a_control_character_anywhere_is_refused()
    {
        var uuid = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
        Assert.Null(SampleValidator.CheckGpu(new GpuIdentity(uuid, "host", 0, "nvidia0", "H100")));
        for (var i = 0; i <= uuid.Length; i++)
        {
            var bad = uuid.Insert(i, "\u0085");
            Assert.Equal("invalid_uuid", SampleValidator.CheckGpu(new GpuIdentity(bad, "host", 0, "nvidia0", "H100")));
        }
    }
}
