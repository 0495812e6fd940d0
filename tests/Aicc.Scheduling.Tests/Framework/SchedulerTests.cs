using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Framework;

public sealed class SchedulerTests
{
    [Fact]
    public void RunCycle_StrictFifoHeadDoesNotFit_BlocksEveryLaterWorkload()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("q").StrictFifo()).Build()
            .Submitted(Make.Workload("big").Pods(2, 8).AtSecond(0), Make.Workload("small").Pods(1, 1).AtSecond(1));

        var result = s.Cycle();

        Assert.Empty(result.Admitted);
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("small"));
        Assert.Equal("waiting: behind big in StrictFIFO queue q", s.Get("small")!.Reason);
        Assert.Contains("pod 2 of 2; the gang starts all pods or none", s.Get("big")!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RunCycle_BestEffortFifoHeadDoesNotFit_AdmitsTheNextThatFits()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("q")).Build()
            .Submitted(Make.Workload("big").Pods(2, 8).AtSecond(0), Make.Workload("small").Pods(1, 1).AtSecond(1));

        var result = s.Cycle();

        Assert.Equal(["small"], result.Admitted.Select(a => a.WorkloadId));
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("big"));
    }

    [Fact]
    public void RunCycle_FractionalPods_ShareOneDeviceUpToOneThousand()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(1)).Build()
            .Submitted(
                Make.Workload("a").Shares(1, 400).AtSecond(0),
                Make.Workload("b").Shares(1, 400).AtSecond(1),
                Make.Workload("c").Shares(1, 200).AtSecond(2),
                Make.Workload("d").Shares(1, 1).AtSecond(3));

        var result = s.Cycle();

        Assert.Equal(["a", "b", "c"], result.Admitted.Select(a => a.WorkloadId));
        Assert.Equal(1000, s.Cluster.DeviceUsed(0));
        Assert.Equal(3, s.Cluster.Sharers(0));
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("d"));
    }

    [Fact]
    public void RunCycle_WholePod_NeverTakesAPartlyUsedDevice()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(2)).Build()
            .Submitted(Make.Workload("share").Shares(1, 300).AtSecond(0), Make.Workload("one").Pods(1, 1).AtSecond(1), Make.Workload("two").Pods(1, 2).AtSecond(2));

        s.Cycle();

        var shared = Assert.Single(Assert.Single(s.PodsOf("share")).Devices);
        var whole = Assert.Single(Assert.Single(s.PodsOf("one")).Devices);
        Assert.NotEqual(shared, whole);
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("two"));
        Assert.Equal(-1, s.Cluster.WholeOwner(s.Cluster.FirstDevice(0) + shared));
    }

    [Fact]
    public void RunCycle_AllowedModelsAndMinScu_PickOnlyMatchingDevices()
    {
        var s = Make.Scheduler().Node(Make.Node("t4").Gpus(4, "T4")).Node(Make.Node("a100").Gpus(4, "A100")).Build()
            .Submitted(
                Make.Workload("t4-only").Pods(1, 1, models: "T4|V100"),
                Make.Workload("strong").Add(new PodSetSpec { Accelerator = new AcceleratorRequest { Count = 1, MinScuMilli = 1000 } }));

        var problems = s.Submit(Make.Workload("no-h100").Pods(1, 1, models: "H100"));
        s.Cycle();

        Assert.Equal("no node has a device of the allowed models", Assert.Single(problems).Message);

        Assert.Equal("t4", Assert.Single(s.PodsOf("t4-only")).Node);
        Assert.Equal("a100", Assert.Single(s.PodsOf("strong")).Node);
        Assert.Equal(WorkloadPhase.Finished, s.PhaseOf("no-h100"));
    }

    [Fact]
    public void RunCycle_ElasticPodSet_StartsWithWhatFitsDownToItsMinimum()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build()
            .Submitted(Make.Workload("elastic").Pods(6, 1, minCount: 2).AtSecond(0), Make.Workload("rigid").Pods(2, 1, minCount: 2).AtSecond(1));

        s.Cycle();

        Assert.Equal(4, s.PodsOf("elastic").Count);
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("rigid"));
    }

    [Fact]
    public void RunCycle_ElasticPodSetBelowMinimum_WaitsHoldingNothing()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("elastic").Pods(8, 1, minCount: 5));

        s.Cycle();

        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("elastic"));
        Assert.Equal(0, s.Cluster.AllocatedMilli);
    }

    [Fact]
    public void RunCycle_MultiGpuPod_LandsWithinOneNvLinkDomain()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8, domainSize: 4)).Policy("aicc").Build()
            .Submitted(Make.Workload("two").Pods(1, 2).AtSecond(0));
        s.Cycle();
        s.Submitted(Make.Workload("four").Pods(1, 4).AtSecond(1));
        s.Cycle(1);

        var node = s.Cluster.NodeSpecAt(0);
        var twoDomains = s.PodsOf("two")[0].Devices.Select(d => node.Devices[d].Domain).Distinct();
        var fourDomains = s.PodsOf("four")[0].Devices.Select(d => node.Devices[d].Domain).Distinct();
        Assert.Single(twoDomains);
        Assert.Single(fourDomains);
        Assert.NotEqual(twoDomains.Single(), fourDomains.Single());
    }

    [Fact]
    public void RunCycle_Gang_LandsInTheFewestRacks()
    {
        var s = Make.Scheduler()
            .Node(Make.Node("lone-a").Gpus(8).Rack("r0"))
            .Node(Make.Node("pair-1").Gpus(8).Rack("r1"))
            .Node(Make.Node("pair-2").Gpus(8).Rack("r1"))
            .Node(Make.Node("lone-b").Gpus(8).Rack("r2"))
            .Policy("aicc").Build()
            .Submitted(Make.Workload("gang").Pods(2, 8));

        s.Cycle();

        Assert.Equal(["pair-1", "pair-2"], s.PodsOf("gang").Select(p => p.Node).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RunCycle_FairShareWithHalfLife_PutsTheQueueThatUsedLessRecentlyFirst()
    {
        Assert.Equal("b", FairShareWinner(halfLifeSeconds: 3600));
    }

    [Fact]
    public void RunCycle_FairShareHalfLifeZero_OnlyCurrentUsageCountsSoFifoDecides()
    {
        Assert.Equal("a", FairShareWinner(halfLifeSeconds: 0));
    }

    /// <summary>Queue a ran the whole node for 100 s and finished; then a and b (a first) both ask for it.</summary>
    private static string FairShareWinner(double halfLifeSeconds)
    {
        var policy = PluginRegistry.Policies["aicc"] with { FairSharing = new FairSharingSpec { HalfLifeSeconds = halfLifeSeconds } };
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("a")).Queue(Make.Queue("b")).Policy(policy).Build()
            .Submitted(Make.Workload("a1", "a").Pods(1, 8));
        s.Cycle(0);
        s.Cycle(50);
        s.Finish("a1");
        s.Submitted(Make.Workload("a2", "a").Pods(1, 8).AtSecond(100), Make.Workload("b2", "b").Pods(1, 8).AtSecond(101));

        var result = s.Cycle(101);

        return Assert.Single(result.Admitted).WorkloadId[..1];
    }

    [Theory]
    [InlineData(true, "b")]
    [InlineData(false, "a")]
    public void RestoreFairUsage_IntoARebuiltScheduler_KeepsTheHistoryThatDecidesFairShare(bool restore, string winner)
    {
        var policy = PluginRegistry.Policies["aicc"] with { FairSharing = new FairSharingSpec { HalfLifeSeconds = 3600 } };
        Scheduler Build() => Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("a")).Queue(Make.Queue("b")).Policy(policy).Build();
        var first = Build().Submitted(Make.Workload("a1", "a").Pods(1, 8));
        first.Cycle(0);
        first.Cycle(50);
        first.Finish("a1");
        first.Cycle(100);
        var saved = first.SaveFairUsage();

        var second = Build();
        if (restore)
        {
            second.RestoreFairUsage(saved);
        }

        second.Submitted(Make.Workload("a2", "a").Pods(1, 8).AtSecond(100), Make.Workload("b2", "b").Pods(1, 8).AtSecond(101));
        var result = second.Cycle(101);

        Assert.Equal(winner, Assert.Single(result.Admitted).WorkloadId[..1]);
        Assert.True(saved.Usage.ContainsKey("a") && !saved.Usage.ContainsKey("b"), string.Join(", ", saved.Usage.Keys));
    }

    [Fact]
    public void FairShare_IdleQueueOfGpuOnlyPods_DecaysWithTheHalfLife()
    {
        var policy = PluginRegistry.Policies["aicc"] with { FairSharing = new FairSharingSpec { HalfLifeSeconds = 60 } };
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("a")).Queue(Make.Queue("b")).Policy(policy).Build()
            .Submitted(Make.Workload("a1", "a").Pods(1, 8, cpu: 0, memory: 0));
        s.Cycle(0);
        s.Cycle(60);
        s.Finish("a1");
        s.Cycle(61);
        var after = s.FairShare("a");

        for (var t = 120; t <= 1200; t += 60)
        {
            s.Cycle(t);
        }

        // 1139 s ≈ 19 half-lives: the share must have fallen by a factor of about 2^19.
        Assert.True(after > 0);
        Assert.True(s.FairShare("a") < after / 1000, $"share {s.FairShare("a")} after 19 half-lives, {after} at the start");
    }

    [Fact]
    public void RunCycle_SameSetupOperationsAndSeed_MakesIdenticalDecisions()
    {
        Assert.Equal(Decisions(seed: 7), Decisions(seed: 7));
        Assert.NotEqual(Decisions(seed: 7), Decisions(seed: 8));
    }

    private static List<string> Decisions(ulong seed)
    {
        var s = Make.Scheduler().Nodes(ClusterBuilder.Uniform(8, 8, "A100")).Policy("random").Seed(seed).Build();
        var decisions = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            s.Submitted(Make.Workload($"w{i}").Pods(1 + (i % 2), 1 + (i % 3)).AtSecond(i));
            if (i % 4 == 3)
            {
                var result = s.Cycle(i);
                decisions.AddRange(result.Admitted.SelectMany(a => a.Pods.Select(p => $"{a.WorkloadId}:{p.Node}:{string.Join(',', p.Devices)}")));
                s.Finish($"w{i - 3}");
            }
        }

        return decisions;
    }

    [Fact]
    public void Restore_RunningWorkload_TakesItsDevicesAndQuota()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Queue(Make.Queue("q").Gpus("A100", 4)).Build();

        var problems = s.Restore(Make.Workload("w").Pods(1, 2), [new PodPlacement("ps0", 0, "n0", [1, 3], 1000)], Make.T0);

        Assert.Empty(problems);
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("w"));
        Assert.Equal(Make.T0, s.Get("w")!.AdmittedAt);
        Assert.Equal(2000, s.Usage("q", "accelerator/A100"));
        Assert.Equal([-1, s.Get("w")!.Handle, -1, s.Get("w")!.Handle], Enumerable.Range(0, 4).Select(s.Cluster.WholeOwner));
    }

    [Fact]
    public void Restore_ConflictingPlacement_IsRefusedAndChangesNothing()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build();
        Assert.Empty(s.Restore(Make.Workload("w1").Pods(1, 2), [new PodPlacement("ps0", 0, "n0", [0, 1], 1000)], Make.T0));
        var fingerprint = s.Cluster.Fingerprint();
        var usage = s.Quotas.UsageSnapshot();

        var clash = s.Restore(Make.Workload("w2").Pods(2, 1), [new PodPlacement("ps0", 0, "n0", [2], 1000), new PodPlacement("ps0", 1, "n0", [1], 1000)], Make.T0);
        var unknown = s.Restore(Make.Workload("w3").Pods(1, 1), [new PodPlacement("ps0", 0, "n9", [0], 1000)], Make.T0);

        Assert.Contains("does not fit on node n0", Assert.Single(clash).Message, StringComparison.Ordinal);
        Assert.Contains("unknown pod set, node or device", Assert.Single(unknown).Message, StringComparison.Ordinal);
        Assert.Null(s.Get("w2"));
        Assert.Null(s.Get("w3"));
        Assert.Equal(fingerprint, s.Cluster.Fingerprint());
        Assert.Equal(usage, s.Quotas.UsageSnapshot());
    }

    [Fact]
    public void RunCycle_ScuQuotaOverMixedModels_ChargesEachDeviceAtItsWeight()
    {
        // 4 SCU: one A100 (1 SCU) and twelve T4 (0.25 SCU each) fill it exactly.
        var s = Make.Scheduler().Node(Make.Node("a").Gpus(2, "A100")).Node(Make.Node("t").Gpus(16, "T4")).Queue(Make.Queue("q").Quota("scu", 4000)).Build()
            .Submitted(Make.Workload("strong").Pods(1, 1, models: "A100").AtSecond(0), Make.Workload("weak").Pods(12, 1, models: "T4").AtSecond(1), Make.Workload("more").Pods(1, 1, models: "T4").AtSecond(2));

        s.Cycle();

        Assert.Equal(4000, s.Usage("q", "scu"));
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("more"));
        Assert.Contains("of scu", s.Get("more")!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RunCycle_FractionalPodsUnderScuQuota_NeverChargeMoreThanTheQuota()
    {
        // Each 333/1000 share of a T4 (250 milli-SCU) is charged ⌈83.25⌉ = 84; three cost 252 > 250.
        var s = Make.Scheduler().Node(Make.Node("t").Gpus(1, "T4")).Queue(Make.Queue("q").Quota("scu", 250)).Build()
            .Submitted(Make.Workload("w").Shares(3, 333, models: "T4"));

        s.Cycle();

        Assert.Empty(s.Quotas.Violations());
        Assert.True(s.Usage("q", "scu") <= 250);
    }

    [Fact]
    public void RunCycle_ElasticPodsOnDifferentModels_StayWithinScuQuota()
    {
        // Full count 3 fits no model's quota, so the minimum (1 pod) starts, on the H100 (3 SCU). An optional
        // second pod may then only go where SCU remains: 3.1 − 3 = 0.1 SCU, less than one T4 (0.25).
        var s = Make.Scheduler().Node(Make.Node("h").Gpus(1, "H100")).Node(Make.Node("t").Gpus(2, "T4"))
            .Queue(Make.Queue("q").Gpus("H100", 1).Gpus("T4", 2).Quota("scu", 3100)).Policy("bestfit").Build()
            .Submitted(Make.Workload("w").Pods(3, 1, models: "H100|T4", minCount: 1));

        s.Cycle();

        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("w"));
        Assert.Empty(s.Quotas.Violations());
        Assert.True(s.Usage("q", "scu") <= 3100, $"scu usage {s.Usage("q", "scu")}");
    }

    [Fact]
    public void RunCycle_TwoSingleModelPodSetsOverScuQuota_WaitsWithAReason()
    {
        var s = Make.Scheduler().Node(Make.Node("a").Gpus(2, "A100")).Node(Make.Node("t").Gpus(2, "T4")).Queue(Make.Queue("q").Quota("scu", 1000)).Build()
            .Submitted(Make.Workload("w").Pods(1, 1, models: "A100").Pods(1, 1, models: "T4"), Make.Workload("cpu-and-share").Pods(1, 0).Shares(1, 500, models: "T4|A100").Pods(1, 2, models: "A100"));

        var result = s.Cycle();

        Assert.Empty(result.Admitted);
        Assert.Contains("needs 1.25 SCU of scu", s.Get("w")!.Reason, StringComparison.Ordinal);
        Assert.Contains("of scu", s.Get("cpu-and-share")!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RunCycle_QuotaExhaustedInCohort_ReasonNamesQueueResourceNominalAndWhatTheCohortLends()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Cohort(Make.Cohort("lab"))
            .Queue(Make.Queue("research").Gpus("A100", 2).InCohort("lab")).Queue(Make.Queue("other").Gpus("A100", 2).InCohort("lab")).Build()
            .Submitted(Make.Workload("r1", "research").Pods(1, 2), Make.Workload("o1", "other").Pods(1, 2));
        s.Cycle();
        s.Submitted(Make.Workload("r2", "research").Pods(1, 1).AtSecond(1));

        s.Cycle(1);

        Assert.Equal(
            "waiting: queue research needs 1 devices of accelerator/A100 but has 0 devices available (nominal 2 devices, in use 2 devices); cohort lab has 0 devices to lend",
            s.Get("r2")!.Reason);
    }

    [Fact]
    public void RunCycle_QueueWithoutCohortOverQuota_SaysThereIsNoCohort()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("solo").Gpus("A100", 1)).Build()
            .Submitted(Make.Workload("w", "solo").Pods(1, 2));

        s.Cycle();

        Assert.EndsWith("; it has no cohort to borrow from", s.Get("w")!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeDown_RunningWorkload_IsRequeuedWithTheNodeInTheReasonAndPlacedElsewhere()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(2)).Node(Make.Node("n1").Gpus(2)).Build().Submitted(Make.Workload("w").Pods(1, 2));
        s.Cycle();
        var first = s.PodsOf("w")[0].Node;

        Assert.Equal(["w"], s.NodeDown(first));
        Assert.Equal($"requeued: node {first} went down", s.Get("w")!.Reason);
        s.Cycle(1);

        Assert.NotEqual(first, s.PodsOf("w")[0].Node);
    }

    [Fact]
    public void SetSchedulable_CordonedNode_KeepsItsPodsButTakesNoNewOnes()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(2)).Build().Submitted(Make.Workload("w1").Pods(1, 1));
        s.Cycle();

        Assert.True(s.SetSchedulable("n0", false));
        s.Submitted(Make.Workload("w2").Pods(1, 1).AtSecond(1));
        s.Cycle(1);

        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("w1"));
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("w2"));
        Assert.True(s.SetSchedulable("n0", true));
        s.Cycle(2);
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("w2"));
    }
}
