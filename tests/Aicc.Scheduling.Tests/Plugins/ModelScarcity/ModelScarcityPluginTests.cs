using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.ModelScarcity;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Plugins.ModelScarcity;

public sealed class ModelScarcityPluginTests
{
    // n0: two T4s, first in node order; n1: eight A100s. One pod in 50 of the expected workload may run
    // only on T4, which is too few for FGD to tell the nodes apart: a whole device taken on either changes
    // expected fragmentation by at most 0.02 device, both score 50, and the first node in order wins.
    private static Scheduler ScarceT4(string policy = "aicc", bool restricted = true)
    {
        var s = Make.Scheduler()
            .Node(Make.Node("n0").Gpus(2, "T4").Cpu(64_000))
            .Node(Make.Node("n1").Gpus(8, "A100").Cpu(64_000))
            .Policy(policy).Build();
        s.Placer.Context.Workload.Add(4000, 1, 0, s.Catalog.AllModelsMask, 49);
        s.Placer.Context.Workload.Add(4000, 1, 0, restricted ? Mask(s, "T4") : s.Catalog.AllModelsMask, 1);
        return s;
    }

    private static int Id(Scheduler s, string model) => s.Catalog.TryGet(model, out var t) ? t.Id : throw new ArgumentException(model);

    private static ulong Mask(Scheduler s, string model) => 1UL << Id(s, model);

    private static PodRequest Whole(Scheduler s, ulong models) =>
        new(new PodSetSpec { CpuMilli = 4000, Accelerator = AcceleratorRequest.Whole(1) }, models);

    [Fact]
    public void ClaimOf_SplitsRestrictedDemandOverItsModels()
    {
        var s = ScarceT4();
        var plugin = new ModelScarcityPlugin();

        Assert.Equal(0.02, plugin.ClaimOf(s.Cluster, s.Placer.Context.Workload, Id(s, "T4")), precision: 9);
        Assert.Equal(0, plugin.ClaimOf(s.Cluster, s.Placer.Context.Workload, Id(s, "A100")));
    }

    [Fact]
    public void Score_UnrestrictedPod_PrefersTheModelWithSlack()
    {
        var s = ScarceT4();
        var plugin = new ModelScarcityPlugin();
        var pod = Whole(s, s.Catalog.AllModelsMask);

        // T4: 2 free devices over a claim of 0.02 (+0.001) → slack 95.2, level ⌊log₁.₂₅ 95.2⌋ = 20.
        // A100: 8 free devices over a claim of 0 (+0.001) → slack 8000, level 40. 100 · 1.25^(20 − 40) ≈ 1.2.
        Assert.Equal(100, plugin.Score(s.Cluster, 1, pod, s.Placer.Context));
        Assert.Equal(100 * Math.Pow(1.25, -20), plugin.Score(s.Cluster, 0, pod, s.Placer.Context), precision: 9);
    }

    [Fact]
    public void Score_PodsWithOneModelOrNoDevices_AndWorkloadsWithoutRestrictions_Score100()
    {
        var s = ScarceT4();
        var plugin = new ModelScarcityPlugin();
        var cpuOnly = new PodRequest(new PodSetSpec { CpuMilli = 4000, Accelerator = AcceleratorRequest.None }, s.Catalog.AllModelsMask);

        Assert.Equal(100, plugin.Score(s.Cluster, 0, Whole(s, Mask(s, "T4")), s.Placer.Context));
        Assert.Equal(100, plugin.Score(s.Cluster, 0, cpuOnly, s.Placer.Context));

        var open = ScarceT4(restricted: false);
        Assert.Equal(100, plugin.Score(open.Cluster, 0, Whole(open, open.Catalog.AllModelsMask), open.Placer.Context));
    }

    [Fact]
    public void Generation_MovesWhenAModelsLevelChanges_NotOnEveryBind()
    {
        var s = ScarceT4();
        var plugin = new ModelScarcityPlugin();
        var g0 = plugin.Generation(s.Cluster, s.Placer.Context);
        var pod = Whole(s, s.Catalog.AllModelsMask);

        // A quarter-device pod on an A100 moves its slack from 8000 to 7750: the same level (40).
        Assert.True(s.Placer.TryBind(1, new PodRequest(new PodSetSpec { CpuMilli = 1000, Accelerator = AcceleratorRequest.Fraction(250) }, s.Catalog.AllModelsMask), 1, out _));
        Assert.Equal(g0, plugin.Generation(s.Cluster, s.Placer.Context));

        // One T4 taken: slack 47.6, level 17; the T4 node's score changes and so does the generation.
        Assert.True(s.Placer.TryBind(0, pod, 2, out _));
        Assert.True(plugin.Generation(s.Cluster, s.Placer.Context) > g0);
        Assert.Equal(100 * Math.Pow(1.25, 17 - 40), plugin.Score(s.Cluster, 0, pod, s.Placer.Context), precision: 9);
    }

    [Fact]
    public void Aicc_KeepsTheScarceModelForThePodsThatNeedIt_WhereFgdDoesNot()
    {
        foreach (var (policy, expectedPlaced) in new[] { ("aicc", 4), ("fgd", 2) })
        {
            var s = ScarceT4(policy);
            var placed = 0;
            foreach (var models in new[] { s.Catalog.AllModelsMask, s.Catalog.AllModelsMask, Mask(s, "T4"), Mask(s, "T4") })
            {
                var pod = Whole(s, models);
                var node = s.Placer.FindNode(pod);
                if (node >= 0 && s.Placer.TryBind(node, pod, placed + 1, out _))
                {
                    placed++;
                }
            }

            Assert.True(expectedPlaced == placed, $"{policy}: placed {placed} of 4, expected {expectedPlaced}");
        }
    }
}
