using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Preemption;

public sealed class PreemptionTests
{
    [Fact]
    public void RunCycle_QueueReclaimsItsLentQuota_EvictsTheBorrowerBeforeItsOwnLowerPriorityWork()
    {
        // One 8-GPU node; a and b have 4 each in cohort c. b runs 6 (borrowing 2 of a's), a runs 2 at priority 0.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Cohort(Make.Cohort("c"))
            .Queue(Make.Queue("a").Gpus("A100", 4).InCohort("c")).Queue(Make.Queue("b").Gpus("A100", 4).InCohort("c")).Build()
            .Submitted(
                Make.Workload("a-lo", "a").Pods(1, 2).AtSecond(0),
                Make.Workload("b1", "b").Pods(1, 4).Priority(5).AtSecond(1),
                Make.Workload("b2", "b").Pods(1, 2).Priority(5).AtSecond(2));
        s.Cycle();
        s.Submitted(Make.Workload("a-hi", "a").Pods(1, 2).Priority(1).AtSecond(10));

        var result = s.Cycle(10);

        var admission = Assert.Single(result.Admitted);
        Assert.Equal("a-hi", admission.WorkloadId);
        Assert.Equal(["b2"], admission.Victims);
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("a-lo"));
        Assert.Equal("requeued: preempted by a-hi (priority 1, queue a) to free quota", s.Get("b2")!.Reason);
        Assert.Equal(s.Get("b2")!.Reason, Assert.Single(result.Evicted).Reason);
    }

    [Fact]
    public void RunCycle_HigherPriorityInSameQueue_EvictsLowerPriorityWork()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("lo").Pods(1, 4));
        s.Cycle();
        s.Submitted(Make.Workload("hi").Pods(1, 2).Priority(3).AtSecond(1));

        var result = s.Cycle(1);

        Assert.Equal(["lo"], Assert.Single(result.Admitted).Victims);
        Assert.Equal("requeued: preempted by hi (priority 3, queue q) to free capacity", s.Get("lo")!.Reason);
    }

    [Fact]
    public void RunCycle_EqualPriority_EvictsNothing()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("first").Pods(1, 4));
        s.Cycle();
        s.Submitted(Make.Workload("second").Pods(1, 1).AtSecond(1));

        var result = s.Cycle(1);

        Assert.Empty(result.Evicted);
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("first"));
    }

    [Fact]
    public void RunCycle_GangVictim_IsEvictedWholeNeverInPart()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Node(Make.Node("n1").Gpus(4)).Build().Submitted(Make.Workload("gang").Pods(2, 4));
        s.Cycle();
        s.Submitted(Make.Workload("hi").Pods(1, 1).Priority(1).AtSecond(1));

        var result = s.Cycle(1);

        Assert.Equal(["gang"], Assert.Single(result.Admitted).Victims);
        Assert.Empty(s.PodsOf("gang"));
        Assert.Equal(1000, s.Cluster.AllocatedMilli);
    }

    [Fact]
    public void RunCycle_VictimYoungerThanMinimumRuntime_IsNotEvictedUntilItIsOldEnough()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Preemption(new PreemptionSpec { MinRuntimeSeconds = 600 }).Build()
            .Submitted(Make.Workload("lo").Pods(1, 4));
        s.Cycle(0);
        s.Submitted(Make.Workload("hi").Pods(1, 4).Priority(1).AtSecond(100));

        Assert.Empty(s.Cycle(100).Evicted);
        Assert.Empty(s.Cycle(599).Evicted);
        Assert.Equal(["lo"], s.Cycle(600).Evicted.Select(e => e.WorkloadId));
    }

    [Fact]
    public void RunCycle_NonPreemptibleWorkload_IsNeverEvicted()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("lo").Pods(1, 4).NotPreemptible());
        s.Cycle();
        s.Submitted(Make.Workload("hi").Pods(1, 1).Priority(9).AtSecond(1));

        var result = s.Cycle(1);

        Assert.Empty(result.Evicted);
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("hi"));
    }

    [Fact]
    public void RunCycle_SeveralCandidates_EvictsOnlyAMinimalSet()
    {
        // Newest first: small2, small1, big. Evicting all three frees 8; big alone frees 6, enough for 6.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Build()
            .Submitted(Make.Workload("big").Pods(1, 6).AtSecond(0), Make.Workload("small1").Pods(1, 1).AtSecond(1), Make.Workload("small2").Pods(1, 1).AtSecond(2));
        s.Cycle();
        s.Submitted(Make.Workload("hi").Pods(1, 6).Priority(1).AtSecond(3));

        var result = s.Cycle(3);

        Assert.Equal(["big"], Assert.Single(result.Admitted).Victims);
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("small1"));
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("small2"));
    }

    [Fact]
    public void RunCycle_MultiDevicePreemptorWithFewCandidatesAllowed_TakesVictimsFromTheNodeItCanEmpty()
    {
        // n0 (A100) holds a0 (priority 5, no victim) and a1..a3; n1 (H100) holds b0..b2. Newest first the
        // three allowed candidates would be a3, b2, a2, which empty no node; grouped by node, n1 (4
        // evictable devices against 3 on n0) comes first and b2, b1, b0 free it.
        var setup = Make.Scheduler().Node(Make.Node("n0").Gpus(4, "A100")).Node(Make.Node("n1").Gpus(4, "H100")).Setup() with { MaxPreemptionCandidates = 3 };
        var s = new Scheduler(setup);
        s.Submitted(Make.Workload("a0").Pods(1, 1, "A100").Priority(5).AtSecond(0));
        s.Cycle(0);
        s.Submitted(Make.Workload("b0").Pods(1, 2, "H100").AtSecond(1));
        s.Cycle(1);
        for (var i = 1; i <= 3; i++)
        {
            s.Submitted(Make.Workload($"a{i}").Pods(1, 1, "A100").AtSecond(2 * i));
            s.Cycle(2 * i);
            if (i < 3)
            {
                s.Submitted(Make.Workload($"b{i}").Pods(1, 1, "H100").AtSecond((2 * i) + 1));
                s.Cycle((2 * i) + 1);
            }
        }

        s.Submitted(Make.Workload("hi").Pods(1, 4, "A100|H100").Priority(1).AtSecond(10));

        var result = s.Cycle(10);

        Assert.Equal(["b0", "b1", "b2"], Assert.Single(result.Admitted).Victims.Order());
        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("a3"));
    }

    [Fact]
    public void RunCycle_RoomOnlyOnANodeOfTheWrongModel_TriesTheWhatIfsAndRestoresEverything()
    {
        // Evicting lo would free 8 devices on n0, enough by count, so the cheap room check passes; they
        // are A100 and hi wants H100, so the what-ifs fail and both victims are put back.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8, "A100")).Node(Make.Node("n1").Gpus(8, "H100")).Build()
            .Submitted(
                Make.Workload("lo").Pods(1, 8, "A100").AtSecond(0),
                Make.Workload("keep").Pods(1, 1, "H100").NotPreemptible().AtSecond(0),
                Make.Workload("lo2").Pods(1, 7, "H100").AtSecond(0));
        s.Cycle();
        var fingerprint = s.Cluster.Fingerprint();
        s.Submitted(Make.Workload("hi").Pods(1, 8, "H100").Priority(1).AtSecond(3));

        var result = s.Cycle(3);

        Assert.Empty(result.Admitted);
        Assert.Empty(result.Evicted);
        Assert.Equal(fingerprint, s.Cluster.Fingerprint());
    }

    [Fact]
    public void RunCycle_PreemptionThatCannotSucceed_LeavesAllocationAndQuotaUntouched()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Queue(Make.Queue("q").Gpus("A100", 8)).Build()
            .Submitted(Make.Workload("keep").Pods(1, 1).NotPreemptible().AtSecond(0), Make.Workload("lo1").Pods(1, 3).AtSecond(1), Make.Workload("lo2").Shares(2, 500).AtSecond(2));
        s.Cycle();
        var fingerprint = s.Cluster.Fingerprint();
        var usage = s.Quotas.UsageSnapshot();
        s.Submitted(Make.Workload("hi").Pods(1, 8).Priority(1).AtSecond(3));

        var result = s.Cycle(3);

        Assert.Empty(result.Admitted);
        Assert.Empty(result.Evicted);
        Assert.Equal(fingerprint, s.Cluster.Fingerprint());
        Assert.Equal(usage, s.Quotas.UsageSnapshot());
        Assert.All(["keep", "lo1", "lo2"], id => Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf(id)));
    }

    [Fact]
    public void RunCycle_ReclaimDisabled_LeavesTheBorrowerRunning()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Cohort(Make.Cohort("c"))
            .Queue(Make.Queue("a").Gpus("A100", 2).InCohort("c")).Queue(Make.Queue("b").Gpus("A100", 2).InCohort("c"))
            .Preemption(new PreemptionSpec { ReclaimWithinCohort = PreemptionScope.Never }).Build()
            .Submitted(Make.Workload("b1", "b").Pods(1, 4));
        s.Cycle();
        s.Submitted(Make.Workload("a1", "a").Pods(1, 2).AtSecond(1));

        Assert.Empty(s.Cycle(1).Evicted);
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("a1"));
    }

    [Fact]
    public void RunCycle_PreemptorBeyondItsNominalQuota_ReclaimsNothingAndNoEvictionsAlternate()
    {
        // a and b have 4 each; b runs 6 (borrowing 2). a's 6-GPU job would itself borrow, so it may not
        // reclaim: evicting b1 would leave b under its quota, free to evict a's job back (ping-pong).
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Cohort(Make.Cohort("c"))
            .Queue(Make.Queue("a").Gpus("A100", 4).InCohort("c")).Queue(Make.Queue("b").Gpus("A100", 4).InCohort("c")).Build()
            .Submitted(Make.Workload("b1", "b").Pods(1, 6).AtSecond(0));
        s.Cycle();
        s.Submitted(Make.Workload("a1", "a").Pods(1, 6).AtSecond(10));

        for (var second = 10; second < 15; second++)
        {
            var result = s.Cycle(second);
            Assert.Empty(result.Evicted);
            Assert.Empty(result.Admitted);
        }

        Assert.Equal(WorkloadPhase.Admitted, s.PhaseOf("b1"));
        Assert.Equal(WorkloadPhase.Pending, s.PhaseOf("a1"));
    }

    [Fact]
    public void RunCycle_ReclaimVictimQueueStopsBorrowing_NextVictimComesFromAQueueStillBorrowing()
    {
        // a has 4, b and c 2 each; c runs 3 and then b runs 3 (each borrows 1), 2 GPUs free. a's 4-GPU job
        // needs 2 more. Newest first would take b3 and b2, leaving b under its quota; b stops being a
        // victim after b3, so the second comes from c.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(8)).Cohort(Make.Cohort("co"))
            .Queue(Make.Queue("a").Gpus("A100", 4).InCohort("co")).Queue(Make.Queue("b").Gpus("A100", 2).InCohort("co"))
            .Queue(Make.Queue("c").Gpus("A100", 2).InCohort("co")).Build()
            .Submitted(
                Make.Workload("c1", "c").Pods(1, 1).AtSecond(0), Make.Workload("c2", "c").Pods(1, 1).AtSecond(1), Make.Workload("c3", "c").Pods(1, 1).AtSecond(2),
                Make.Workload("b1", "b").Pods(1, 1).AtSecond(3), Make.Workload("b2", "b").Pods(1, 1).AtSecond(4), Make.Workload("b3", "b").Pods(1, 1).AtSecond(5));
        Assert.Equal(6, s.Cycle(5).Admitted.Count);
        s.Submitted(Make.Workload("a1", "a").Pods(1, 4).AtSecond(10));

        var result = s.Cycle(10);

        Assert.Equal(["b3", "c3"], Assert.Single(result.Admitted).Victims.Order(StringComparer.Ordinal));
        Assert.Equal(2000, s.Usage("b", "accelerator/A100"));
        Assert.Equal(2000, s.Usage("c", "accelerator/A100"));
        Assert.Empty(s.Quotas.Violations());
    }

    [Fact]
    public void RunCycle_PreemptedVictim_KeepsTheServiceOfTheRunThatEnded()
    {
        // lo runs on 4 GPUs from second 0 until hi evicts it at second 100: 400 device-seconds attained,
        // counted at the devices it held before the what-if released them.
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("lo").Pods(1, 4));
        s.Cycle(0);
        s.Submitted(Make.Workload("hi").Pods(1, 4).Priority(1).AtSecond(100));

        Assert.Equal(["lo"], Assert.Single(s.Cycle(100).Admitted).Victims);

        var lo = s.Get("lo")!;
        Assert.Equal(WorkloadPhase.Pending, lo.Phase);
        Assert.Equal(400, lo.AttainedBeforeDeviceSeconds, 6);
        Assert.Equal(400, lo.AttainedDeviceSeconds(Make.T0.AddSeconds(200)), 6);
    }

    [Fact]
    public void Evict_RunningWorkload_KeepsTheServiceOfTheRunThatEnded()
    {
        var s = Make.Scheduler().Node(Make.Node("n0").Gpus(4)).Build().Submitted(Make.Workload("w").Pods(1, 2));
        s.Cycle(0);
        s.Cycle(50);

        Assert.True(s.Evict("w", "operator"));

        Assert.Equal(100, s.Get("w")!.AttainedBeforeDeviceSeconds, 6);
    }
}
