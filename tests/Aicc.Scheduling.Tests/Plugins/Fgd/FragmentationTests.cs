using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Plugins.Fgd;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Plugins.Fgd;

/// <summary>
/// Golden cases for fragmentation as Weng et al. define it (USENIX ATC'23, §3): for a task that cannot run
/// on a node, all of the node's free GPU share is fragment; for a task that can, the free share on devices
/// it cannot use (too little room for its per-device request, or a model it does not allow) is fragment.
/// All figures in milli-devices; the expected numbers are worked out in the comments.
/// </summary>
public sealed class FragmentationTests
{
    private const ulong AnyModel = ulong.MaxValue;
    private static readonly int A100 = ClusterBuilder.DefaultCatalog().Types.Single(t => t.Name == "A100").Id;
    private static readonly int T4 = ClusterBuilder.DefaultCatalog().Types.Single(t => t.Name == "T4").Id;

    // A node of four A100s with free share 1000, 500, 200 and 0; 8 cores free. Total free = 1700.
    private static readonly int[] Free = [1000, 500, 200, 0];
    private static readonly int[] Models = [A100, A100, A100, A100];

    private static TaskClass Fraction(int milli, ulong models = AnyModel, long cpu = 0, double popularity = 1) => new(cpu, 0, milli, models, popularity);

    private static TaskClass Whole(int count, ulong models = AnyModel, long cpu = 0, double popularity = 1) => new(cpu, count, 0, models, popularity);

    [Fact]
    public void ForTask_FractionThatFits_CountsDevicesWithTooLittleRoom()
    {
        // 300/1000 fits on the 1000 and 500 devices; the 200 and 0 devices cannot take it: 200 + 0 = 200.
        Assert.Equal(200, Fragmentation.ForTask(Free, Models, 8000, Fraction(300)));
    }

    [Fact]
    public void ForTask_OneWholeDevice_CountsEveryPartlyUsedDevice()
    {
        // Only the 1000 device can be used: 500 + 200 + 0 = 700.
        Assert.Equal(700, Fragmentation.ForTask(Free, Models, 8000, Whole(1)));
    }

    [Fact]
    public void ForTask_TaskThatCannotRun_CountsAllFreeShare()
    {
        // Two whole devices: only one device is entirely free, so the task cannot run: 1000 + 500 + 200 = 1700.
        Assert.Equal(1700, Fragmentation.ForTask(Free, Models, 8000, Whole(2)));

        // A fraction larger than any device's room ([400, 300] free, 500 asked): 400 + 300 = 700.
        Assert.Equal(700, Fragmentation.ForTask([400, 300], [A100, A100], 8000, Fraction(500)));

        // Enough GPU but too little CPU (2 cores asked, 1 free): 1700.
        Assert.Equal(1700, Fragmentation.ForTask(Free, Models, 1000, Fraction(300, cpu: 2000)));

        // A model the node does not have (T4 only, node of A100s): 1700.
        Assert.Equal(1700, Fragmentation.ForTask(Free, Models, 8000, Fraction(300, models: 1UL << T4)));
    }

    [Fact]
    public void ForTask_MixedModels_CountsTheDevicesOfModelsTheTaskRefuses()
    {
        // One free A100 and one free T4; a T4-only half-device task can run, and the A100's 1000 is fragment.
        Assert.Equal(1000, Fragmentation.ForTask([1000, 1000], [A100, T4], 8000, Fraction(500, models: 1UL << T4)));
    }

    [Fact]
    public void ForTask_CpuOnlyTask_CountsEveryFreeShareAsTheArtifactDoes()
    {
        // The FGD artifact (pkg/utils/frag.go) treats a CPU-only task class as one that can use no GPU:
        // all 1,700 free milli are fragment for it, whether or not its CPU fits.
        Assert.Equal(1700, Fragmentation.ForTask(Free, Models, 8000, Fraction(0, cpu: 4000)));
        Assert.Equal(1700, Fragmentation.ForTask(Free, Models, 2000, Fraction(0, cpu: 4000)));
    }

    [Fact]
    public void Expected_WeighsEachTaskByItsPopularity()
    {
        // 0.5 × 200 (fraction 300) + 0.25 × 700 (one GPU) + 0.25 × 1700 (two GPUs) = 100 + 175 + 425 = 700.
        TaskClass[] classes = [Fraction(300, popularity: 0.5), Whole(1, popularity: 0.25), Whole(2, popularity: 0.25)];

        Assert.Equal(700, Fragmentation.Expected(Free, Models, 8000, classes), precision: 9);
    }

    /// <summary>n0: two A100s, device 0 holding a 700 share (free 300, 1000); n1: two free A100s.</summary>
    private static Scheduler TwoNodes()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(2)).Node(Make.Node("n1").Gpus(2)).Policy("fgd").Build();
        Assert.Empty(s.Restore(Make.Workload("held").Shares(1, 700), [new PodPlacement("ps0", 0, "n0", [0], 700)], Make.T0));
        return s;
    }

    [Fact]
    public void BestDelta_SmallFraction_PrefersTheDeviceWhoseLeftoverIsAlreadyFragment()
    {
        var s = TwoNodes();
        TaskClass[] workload = [Fraction(500)];
        var pod = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(200) }, AnyModel);

        // Target: tasks of 500. Before, n0 = [300, 1000]: the 300 cannot hold 500, fragment 300.
        // 200 on device 0 → [100, 1000]: fragment 100, Δ = −200. On device 1 → [300, 800]: fragment 300, Δ = 0.
        var delta = Fragmentation.BestDelta(s.Cluster, 0, pod, workload, out var device);

        Assert.Equal(-200, delta, precision: 9);
        Assert.Equal(0, device);

        // n1 = [1000, 1000] has no fragment before or after ([800, 1000] still holds 500 on both): Δ = 0.
        Assert.Equal(0, Fragmentation.BestDelta(s.Cluster, 1, pod, workload, out _), precision: 9);
    }

    [Fact]
    public void BestDelta_WholeDevice_TakesFreeDevicesAndCountsWhatTheyStrand()
    {
        var s = TwoNodes();
        TaskClass[] workload = [Fraction(500)];
        var pod = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Whole(1) }, AnyModel);

        // n0 [300, 1000] → [300, 0]: no device holds 500 any more, all 300 is fragment: 300 − 300 = 0.
        Assert.Equal(0, Fragmentation.BestDelta(s.Cluster, 0, pod, workload, out var device), precision: 9);
        Assert.Equal(-1, device);
    }

    [Fact]
    public void FgdPlugin_Score_MapsTheDeltaThroughASigmoidAndRanksTheLessFragmentingNodeFirst()
    {
        var s = TwoNodes();
        s.Placer.Context.Workload.Clear();
        s.Placer.Context.Workload.Add(0, 0, 500, s.Catalog.AllModelsMask);
        var pod = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(200) }, s.Catalog.AllModelsMask);
        var plugin = new FgdPlugin();

        // Score = ⌊100 · sigmoid(−Δ / 1000)⌋ as in the artifact: n0 (Δ −200) → ⌊54.98⌋ = 54, n1 (Δ 0) → 50.
        var n0 = plugin.Score(s.Cluster, 0, pod, s.Placer.Context);
        var n1 = plugin.Score(s.Cluster, 1, pod, s.Placer.Context);

        Assert.Equal(54, n0, precision: 9);
        Assert.Equal(50, n1, precision: 9);
        Assert.Equal(0, s.Placer.FindNode(pod));
    }

    [Fact]
    public void FgdPlugin_Score_StaysWithinZeroToHundred()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(16)).Policy("fgd").Build();
        s.Placer.Context.Workload.Add(0, 16, 0, s.Catalog.AllModelsMask);
        var pod = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Whole(1) }, s.Catalog.AllModelsMask);

        // Taking one of 16 free devices makes a 16-GPU task impossible: Δ = 15,000, ⌊100 · sigmoid(−15)⌋ = 0.
        Assert.Equal(0, new FgdPlugin().Score(s.Cluster, 0, pod, s.Placer.Context));
    }

    [Fact]
    public void FgdPlugin_CoarseAndExactSteps_QuantiseTheSameSigmoid()
    {
        var s = TwoNodes();
        s.Placer.Context.Workload.Clear();
        s.Placer.Context.Workload.Add(0, 0, 500, s.Catalog.AllModelsMask);
        var pod = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(200) }, s.Catalog.AllModelsMask);

        // n0: Δ −200 → 100 · sigmoid(0.2) = 54.983; levels of 2 points → 54. n1: Δ 0 → 50 in every form.
        Assert.Equal(54.983, new FgdPlugin(step: 0).Score(s.Cluster, 0, pod, s.Placer.Context), precision: 3);
        Assert.Equal(54, new FgdPlugin(step: 2).Score(s.Cluster, 0, pod, s.Placer.Context), precision: 9);
        Assert.Equal(50, new FgdPlugin(step: 0).Score(s.Cluster, 1, pod, s.Placer.Context), precision: 9);
        Assert.Equal(50, new FgdPlugin(step: 2).Score(s.Cluster, 1, pod, s.Placer.Context), precision: 9);
    }

    [Fact]
    public void FgdPlugin_CoarseStep_TiesDeltasThatTheArtifactsLevelsSeparate()
    {
        // One device with 300 milli used; target: tasks of 800, so its 700 free is all fragment and a pod of
        // m milli shrinks it by m. Δ −100 → 100 · sigmoid(0.10) = 52.50; Δ −130 → 53.25. The artifact's
        // levels give 52 and 53; levels of two points give 52 for both, leaving the choice to the tie-break.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(1)).Policy("fgd").Build();
        var held = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(300) }, s.Catalog.AllModelsMask);
        Assert.True(s.Placer.TryBind(0, held, 1, out _));
        s.Placer.Context.Workload.Clear();
        s.Placer.Context.Workload.Add(0, 0, 800, s.Catalog.AllModelsMask);
        double Score(int step, int milli) => new FgdPlugin(step).Score(
            s.Cluster, 0, new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(milli) }, s.Catalog.AllModelsMask), s.Placer.Context);

        Assert.Equal(52, Score(1, 100), precision: 9);
        Assert.Equal(53, Score(1, 130), precision: 9);
        Assert.Equal(52, Score(2, 100), precision: 9);
        Assert.Equal(52, Score(2, 130), precision: 9);
    }

    [Fact]
    public void FgdPlugin_SizedLevels_KeepTheArtifactsLevelsForSmallFractionsOnly()
    {
        // The node of the test above: a device with 300 used, target tasks of 800. Pods of 100 and 130 milli
        // (small fractions) keep the artifact's levels 52 and 53; pods of 510 and 540 (Δ −510 → 62.48,
        // Δ −540 → 63.18) are large fractions and share the two-point level 62.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(1)).Policy("fgd").Build();
        var held = new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(300) }, s.Catalog.AllModelsMask);
        Assert.True(s.Placer.TryBind(0, held, 1, out _));
        s.Placer.Context.Workload.Clear();
        s.Placer.Context.Workload.Add(0, 0, 800, s.Catalog.AllModelsMask);
        var sized = new FgdPlugin(FgdLevels.Sized);
        double Score(int milli) => sized.Score(
            s.Cluster, 0, new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(milli) }, s.Catalog.AllModelsMask), s.Placer.Context);

        Assert.Equal("FGDSized", sized.Name);
        Assert.Equal(52, Score(100), precision: 9);
        Assert.Equal(53, Score(130), precision: 9);
        Assert.Equal(62, Score(510), precision: 9);
        Assert.Equal(62, Score(540), precision: 9);
        Assert.Equal(63, new FgdPlugin(step: 1).Score(
            s.Cluster, 0, new PodRequest(new PodSetSpec { Accelerator = AcceleratorRequest.Fraction(540) }, s.Catalog.AllModelsMask), s.Placer.Context), precision: 9);
    }
}
