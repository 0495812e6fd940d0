using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Queueing;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Queueing;

public sealed class QueueSortsTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 3)]
    [InlineData(64, 1)]
    [InlineData(300, 1)]
    public void ShortestJobFirstKey_WidthExponent_IsRemainingTimesDevicesToThePower(int podCount, int gpusPerPod)
    {
        var sort = new ShortestJobFirstSort(-0.5);
        var spec = Make.Workload("w").Pods(podCount, gpusPerPod).Build() with { EstimatedDurationSeconds = 1000 };
        var workload = new WorkloadState(spec, 0, 0, [1UL]);
        var expected = 1000 * Math.Pow(podCount * gpusPerPod, -0.5);

        // The factor is cached per device count: the second answer must equal the first, bit for bit.
        Assert.Equal(expected, sort.Key(workload, Make.T0));
        Assert.Equal(expected, sort.Key(workload, Make.T0));
    }

    [Fact]
    public void ShortestJobFirstKey_FractionOfADevice_CountsAsOneDevice()
    {
        var sort = new ShortestJobFirstSort(-0.5);
        var spec = Make.Workload("w").Shares(1, 250).Build() with { EstimatedDurationSeconds = 100 };

        Assert.Equal(100, sort.Key(new WorkloadState(spec, 0, 0, [1UL]), Make.T0));
    }
}
