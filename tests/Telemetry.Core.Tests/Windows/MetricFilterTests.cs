using Telemetry.Core.Queries;

namespace Telemetry.Core.Tests.Windows;

public sealed class MetricFilterTests
{
    [Fact]
    public void Names_are_answered_by_value_whichever_instance_carries_them()
    {
        var filter = MetricFilter.For(new HashSet<string>(StringComparer.Ordinal) { "DCGM_FI_DEV_GPU_UTIL" })!;
        var shared = "DCGM_FI_DEV_GPU_UTIL";
        Assert.True(filter.Wants(shared));
        Assert.False(filter.Wants("DCGM_FI_DEV_SM_CLOCK"));
        // Met again, and as another instance of the same text (as a deserialiser makes them): the same answers.
        Assert.True(filter.Wants(shared));
        Assert.True(filter.Wants(new string(shared)));
        Assert.False(filter.Wants(new string("DCGM_FI_DEV_SM_CLOCK")));
    }

    [Fact]
    public void More_names_than_it_remembers_are_still_answered()
    {
        var filter = MetricFilter.For(new HashSet<string>(StringComparer.Ordinal) { "metric-7", "metric-70" })!;
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 100; i++) Assert.Equal(i is 7 or 70, filter.Wants($"metric-{i}"));
        }
    }

    [Fact]
    public void No_metric_asked_means_no_filter()
    {
        Assert.Null(MetricFilter.For(null));
        Assert.Null(MetricFilter.For(new HashSet<string>()));
    }
}
