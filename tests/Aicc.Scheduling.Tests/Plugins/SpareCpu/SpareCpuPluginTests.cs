using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.SpareCpu;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Plugins.SpareCpu;

public sealed class SpareCpuPluginTests
{
    // Two nodes of four A100s and 32 cores, n0 first in order; n1's devices are all taken by a pod that
    // holds no CPU.
    private static Scheduler TwoNodesOneFull()
    {
        var s = Make.Scheduler()
            .Node(Make.Node("n0").Gpus(4).Cpu(32_000))
            .Node(Make.Node("n1").Gpus(4).Cpu(32_000))
            .Policy("aicc").Build();
        var gang = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Whole(4) }, s.Catalog.AllModelsMask);
        Assert.True(s.Placer.TryBind(1, gang, 1, out _));
        return s;
    }

    private static PodRequest CpuOnly(Scheduler s, long cpuMilli) =>
        new(new PodSetSpec { CpuMilli = cpuMilli, Accelerator = AcceleratorRequest.None }, s.Catalog.AllModelsMask);

    [Fact]
    public void Score_CpuOnlyPod_PrefersTheNodeWhoseDevicesNeedNoMoreCpu()
    {
        var s = TwoNodesOneFull();
        var plugin = new SpareCpuPlugin();
        var pod = CpuOnly(s, 4000);

        // n0: 28 cores left for 4 idle devices, r = 28 / 4.1 = 6.83 → 100 · 6.83 / 16.83 = 40.6.
        // n1: 28 cores, no idle device, r = 28 / 0.1 = 280 → 96.6.
        Assert.Equal(40.6, plugin.Score(s.Cluster, 0, pod, s.Placer.Context), precision: 1);
        Assert.Equal(96.6, plugin.Score(s.Cluster, 1, pod, s.Placer.Context), precision: 1);
    }

    [Fact]
    public void Score_PodWithDevices_IsZeroEverywhere()
    {
        var s = TwoNodesOneFull();
        var plugin = new SpareCpuPlugin();
        var pod = new PodRequest(new PodSetSpec { CpuMilli = 4000, Accelerator = AcceleratorRequest.Fraction(500) }, s.Catalog.AllModelsMask);

        Assert.Equal(0, plugin.Score(s.Cluster, 0, pod, s.Placer.Context));
        Assert.Equal(0, plugin.Score(s.Cluster, 1, pod, s.Placer.Context));
    }

    [Fact]
    public void Aicc_CpuOnlyPodOnFgdTie_GoesToTheNodeWithoutIdleDevices()
    {
        var s = TwoNodesOneFull();

        // FGD has no target workload here, so both nodes tie on it; the first node in order would win
        // without SpareCpu.
        Assert.Equal(1, s.Placer.FindNode(CpuOnly(s, 4000)));
    }
}
