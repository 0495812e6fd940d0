using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Simulation.Packing;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Tests.Packing;

public class IdleBreakdownTests
{
    // Four nodes of 8 cores: two with two T4s, two with one. GPU pods: 0.2 and 0.3 of a GPU with 1 core, one GPU with 2.
    private static (PackingInput Input, ClusterState Cluster) Cluster()
    {
        var nodes = new[]
        {
            new OpenbNode("a", 8000, 32_768, 2, "T4"),
            new OpenbNode("b", 8000, 32_768, 2, "T4"),
            new OpenbNode("c", 8000, 32_768, 1, "T4"),
            new OpenbNode("d", 8000, 32_768, 1, "T4"),
        };
        var pods = new[]
        {
            new OpenbPod("p0", 1000, 1024, 1, 300, ""),
            new OpenbPod("p1", 2000, 1024, 1, 1000, ""),
            new OpenbPod("p2", 4000, 1024, 0, 0, ""),
            new OpenbPod("p3", 1000, 1024, 1, 200, ""),
        };
        var input = PackingInput.Create("idle", nodes, pods);
        return (input, new ClusterState(input.Catalog, input.Nodes));
    }

    private static PodRequest MakeRequest(PackingInput input, long cpuMilli, int milli) => new(
        new PodSetSpec
        {
            CpuMilli = cpuMilli,
            MemoryMiB = 1024,
            Accelerator = milli == 1000 ? AcceleratorRequest.Whole(1, []) : AcceleratorRequest.Fraction(milli, []),
        },
        input.Catalog.AllModelsMask);

    [Fact]
    public void Of_SplitsIdleShareByWhatStillFits()
    {
        var (input, cluster) = Cluster();
        var placer = new Placer(cluster, new PolicySpec { Name = "first", Scores = [new("BestFit", 1)], DeviceSelection = "First" }, new ScoringContext(1));
        Assert.True(placer.TryBind(0, MakeRequest(input, 1000, 850), 1, out _));
        Assert.True(placer.TryBind(0, MakeRequest(input, 1000, 1000), 2, out _));
        Assert.True(placer.TryBind(1, MakeRequest(input, 7500, 500), 3, out _));
        Assert.True(placer.TryBind(1, MakeRequest(input, 0, 1000), 4, out _));
        Assert.True(placer.TryBind(2, MakeRequest(input, 1000, 800), 5, out _));

        var idle = IdleBreakdown.Of(cluster, input.Requests);

        Assert.Equal(1.85, idle.Idle, 6);
        Assert.Equal(0.15, idle.BelowEveryRequest, 6);
        Assert.Equal(0.5, idle.CpuOrMemoryStranded, 6);
        Assert.Equal(1.2, idle.Usable, 6);
        Assert.Equal(0.2, idle.UsableBySmallPodsOnly, 6);
        Assert.Equal(1.0, idle.WholeDevices, 6);
        Assert.Equal(100.0 / 3, idle.SmallPodsPct, 6);
        Assert.Equal(100.0 * 10_500 / 32_000, idle.CpuUsedPct, 6);
    }

    [Fact]
    public void Of_EmptyCluster_EveryDeviceIsUsableAndWhole()
    {
        var (input, cluster) = Cluster();

        var idle = IdleBreakdown.Of(cluster, input.Requests);

        Assert.Equal(6.0, idle.Idle, 6);
        Assert.Equal(6.0, idle.Usable, 6);
        Assert.Equal(6.0, idle.WholeDevices, 6);
        Assert.Equal(0.0, idle.CpuUsedPct, 6);
    }

    [Fact]
    public void Of_WithLargestShares_CountsIdleBesidePodsOfMoreThanHalfADevice()
    {
        var (input, cluster) = Cluster();
        var placer = new Placer(cluster, new PolicySpec { Name = "first", Scores = [new("BestFit", 1)], DeviceSelection = "First" }, new ScoringContext(1));
        var largest = new int[cluster.TotalDevices];
        (int Node, int Milli)[] pods = [(0, 850), (0, 1000), (1, 500), (2, 800), (2, 150)];
        for (var owner = 0; owner < pods.Length; owner++)
        {
            Assert.True(placer.TryBind(pods[owner].Node, MakeRequest(input, 1000, pods[owner].Milli), owner, out var allocation));
            foreach (var d in allocation.Devices)
            {
                largest[d] = Math.Max(largest[d], allocation.MilliPerDevice);
            }
        }

        var idle = IdleBreakdown.Of(cluster, input.Requests, largest);

        // 0.15 beside the 0.85 pod and 0.05 beside the 0.8 pod (a 0.15 pod joined it); not the 0.5 beside
        // the half-device pod, nor the idle devices.
        Assert.Equal(0.2, idle.BesideLargeShares, 6);
        Assert.Equal(0.0, IdleBreakdown.Of(cluster, input.Requests).BesideLargeShares, 6);
    }
}
