using Aicc.Simulation.Planning;

namespace Aicc.Simulation.Tests.Planning;

public sealed class SloTests
{
    [Theory]
    [InlineData("p95-queue<=1h", SloMetric.QueuePercentile, 95, 3600)]
    [InlineData("p50-queue <= 90s", SloMetric.QueuePercentile, 50, 90)]
    [InlineData("avg-queue<=30m", SloMetric.AverageQueue, 0, 1800)]
    [InlineData("avg-queue<=2d", SloMetric.AverageQueue, 0, 172_800)]
    [InlineData("avg-queue<=600", SloMetric.AverageQueue, 0, 600)]
    [InlineData("avg-jct-ratio<=1.5", SloMetric.AverageJctRatio, 0, 1.5)]
    public void Parse_SupportedForms_GiveMetricAndLimit(string text, SloMetric metric, double percentile, double limit)
    {
        var slo = Slo.Parse(text, out var problem);
        Assert.Null(problem);
        Assert.NotNull(slo);
        Assert.Equal(metric, slo.Metric);
        Assert.Equal(percentile, slo.Percentile);
        Assert.Equal(limit, slo.Limit, 9);
    }

    [Theory]
    [InlineData("p95-wait<=1h")]
    [InlineData("p95-queue<=soon")]
    [InlineData("p0-queue<=1h")]
    [InlineData("avg-jct-ratio<=-1")]
    [InlineData("avg-queue>=1h")]
    public void Parse_BadForms_SayWhy(string text)
    {
        Assert.Null(Slo.Parse(text, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Fact]
    public void Measure_QueueingAndRatio_FollowTheReplay()
    {
        var trace = PlanningFixtures.Trace(
            (0, 100, 8), (10, 100, 8));
        var run = PlanningFixtures.Replay(trace, servers: 1);
        Assert.Equal(90, Slo.Parse("p100-queue<=1h", out _)!.Measure(run), 6);
        Assert.Equal(45, Slo.Parse("avg-queue<=1h", out _)!.Measure(run), 6);
        Assert.Equal((100 + 190) / 2.0 / 100, Slo.Parse("avg-jct-ratio<=2", out _)!.Measure(run), 6);
    }

    [Fact]
    public void Measure_JobLargerThanTheCluster_IsInfinite()
    {
        var run = PlanningFixtures.Replay(PlanningFixtures.Trace((0, 100, 16)), servers: 1);
        Assert.True(double.IsPositiveInfinity(Slo.Parse("avg-queue<=1h", out _)!.Measure(run)));
    }
}
