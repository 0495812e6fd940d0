using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.BestFit;
using Aicc.Scheduling.Plugins.DotProduct;
using Aicc.Scheduling.Plugins.Fgd;
using Aicc.Scheduling.Plugins.GpuPacking;

namespace Aicc.Simulation.Tests.Packing;

/// <summary>Hand-computed scores of the FGD artifact's plugins on one small node, to pin the formulas.</summary>
public class ArtifactScoreTests
{
    private static readonly AcceleratorCatalog Catalog = new([new AcceleratorType("T4", AcceleratorKind.Gpu, 0, 1000)]);

    private static ClusterState Node(int gpus = 4, long cpu = 64_000) =>
        new(Catalog, [new NodeSpec { Name = "n0", CpuMilli = cpu, MemoryMiB = 1 << 20, Devices = NodeSpec.UniformDevices(gpus, "T4") }]);

    private static PodRequest Pod(long cpu, int count = 0, int milli = 0) =>
        new(new PodSetSpec { CpuMilli = cpu, MemoryMiB = 1, Accelerator = count > 0 ? AcceleratorRequest.Whole(count) : milli > 0 ? AcceleratorRequest.Fraction(milli) : AcceleratorRequest.None }, 1);

    [Fact]
    public void BestFit_IdleNode_ScoresLeftoverAgainstLargestSpec()
    {
        // Leftover after an 8-core, 1-GPU pod: (56000/128000 + 3000/8000) / 2 = (0.4375 + 0.375) / 2 = 0.40625 → ⌊59.375⌋.
        Assert.Equal(59, new BestFitPlugin().Score(Node(), 0, Pod(8000, count: 1), new ScoringContext(1)));
    }

    [Fact]
    public void DotProduct_IdleNode_ScoresOneMinusHalfTheProduct()
    {
        // (64000/128000)(8000/128000) + (4000/8000)(1000/8000) = 0.03125 + 0.0625 = 0.09375; 100 (1 − 0.046875) → 95.
        Assert.Equal(95, new DotProductPlugin().Score(Node(), 0, Pod(8000, count: 1), new ScoringContext(1)));
    }

    [Fact]
    public void GpuPacking_IdleNodeScoresBelowAPartlyUsedOne()
    {
        var cluster = Node();
        var placer = new Placer(cluster, PluginRegistry.Policies["gpupacking"], new ScoringContext(1));
        var plugin = new GpuPackingPlugin();
        var idle = plugin.Score(cluster, 0, Pod(1000, milli: 300), new ScoringContext(1));
        Assert.True(placer.TryBind(0, Pod(1000, milli: 500), 1, out _));

        var joining = plugin.Score(cluster, 0, Pod(1000, milli: 300), new ScoringContext(1));

        Assert.Equal(29, idle);
        Assert.Equal(95, joining);
    }

    [Fact]
    public void Fgd_PodThatStrandsNoShare_ScoresTheSigmoidOfTheDrop()
    {
        // Workload: half-GPU tasks only. A 500 pod on an idle 4-GPU node leaves 500 on one device, still usable: Δ = 0 → 50.
        var context = new ScoringContext(1);
        context.Workload.Add(1000, 0, 500, 1, 1);

        Assert.Equal(50, new FgdPlugin().Score(Node(), 0, Pod(1000, milli: 500), context));
    }

    [Fact]
    public void Fgd_CpuOnlyClass_CountsEveryFreeShareAsFragment()
    {
        Assert.Equal(1600, Fragmentation.ForTask([600, 1000], [0, 0], 4000, new TaskClass(2000, 0, 0, 1, 1)));
    }
}
