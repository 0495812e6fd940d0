using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Quotas;

/// <summary>Quota arithmetic on small trees whose answers are worked out by hand in each test.</summary>
public class QuotaTreeHandComputedTests
{
    private const string A100 = "accelerator/A100";

    private static Scheduler Center(params QueueSpec[] queues) => Center([new CohortSpec { Name = "labs" }], queues);

    private static Scheduler Center(CohortSpec[] cohorts, params QueueSpec[] queues) =>
        Make.Scheduler([Make.Node("n0", gpus: 8), Make.Node("n1", gpus: 8), Make.Node("n2", gpus: 8)], queues, cohorts);

    private static void SubmitGpus(Scheduler s, string id, string queue, int gpus) =>
        s.Accept(Make.Job(id, queue, podSets: Make.Pods(count: gpus, gpus: 1, cpu: 0, memory: 0)));

    [Fact]
    public void Queue_BorrowsIdleQuotaFromItsCohort()
    {
        // a: 4 GPUs, b: 8 GPUs, both in "labs". a may take its 4 plus b's 8 idle: 12.
        var s = Center(Make.Queue("a", "labs", quotas: (A100, ResourceQuota.Devices(4))), Make.Queue("b", "labs", quotas: (A100, ResourceQuota.Devices(8))));
        SubmitGpus(s, "big", "a", 12);
        SubmitGpus(s, "more", "a", 1);

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Admitted, s.Get("big")!.Phase);
        Assert.Equal(WorkloadPhase.Pending, s.Get("more")!.Phase);
        Assert.Equal(12_000, s.Quotas.Usage("a", ResourceNames.AcceleratorIndex(0)));
        Assert.Empty(s.Quotas.Violations());
    }

    [Fact]
    public void Queue_BorrowingLimitCapsWhatItTakes()
    {
        // a: 4 GPUs nominal, may borrow at most 2 → 6 in all, although b leaves 8 idle.
        var s = Center(Make.Queue("a", "labs", quotas: (A100, ResourceQuota.Devices(4, borrowingLimit: 2))), Make.Queue("b", "labs", quotas: (A100, ResourceQuota.Devices(8))));
        SubmitGpus(s, "seven", "a", 7);
        SubmitGpus(s, "six", "a", 6);

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Pending, s.Get("seven")!.Phase);
        Assert.Equal(WorkloadPhase.Admitted, s.Get("six")!.Phase);
    }

    [Fact]
    public void Queue_LendingLimitKeepsTheRestGuaranteed()
    {
        // b: 8 GPUs but lends at most 3. a (nominal 0) can borrow only those 3; b's other 5 stay b's.
        var s = Center(Make.Queue("a", "labs", quotas: (A100, ResourceQuota.Devices(0))), Make.Queue("b", "labs", quotas: (A100, ResourceQuota.Devices(8, lendingLimit: 3))));
        SubmitGpus(s, "four", "a", 4);
        SubmitGpus(s, "three", "a", 3);
        SubmitGpus(s, "b-five", "b", 5);

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Pending, s.Get("four")!.Phase);
        Assert.Equal(WorkloadPhase.Admitted, s.Get("three")!.Phase);
        Assert.Equal(WorkloadPhase.Admitted, s.Get("b-five")!.Phase);
    }

    [Fact]
    public void NestedCohorts_ParentQuotaIsSharedAndChildLimitsHold()
    {
        // root owns 4 GPUs; child cohort "vision" (parent root) has queue v with 2 and borrowing limit 3.
        // v can take 2 + min(3, root's 4) = 5.
        CohortSpec[] cohorts =
        [
            new CohortSpec { Name = "root", Quotas = new Dictionary<string, ResourceQuota> { [A100] = ResourceQuota.Devices(4) } },
            new CohortSpec { Name = "vision", Parent = "root" },
        ];
        var s = Center(cohorts, Make.Queue("v", "vision", quotas: (A100, ResourceQuota.Devices(2, borrowingLimit: 3))));
        SubmitGpus(s, "six", "v", 6);
        SubmitGpus(s, "five", "v", 5);

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Pending, s.Get("six")!.Phase);
        Assert.Equal(WorkloadPhase.Admitted, s.Get("five")!.Phase);
        Assert.Equal(5_000, s.Quotas.Usage("root", ResourceNames.AcceleratorIndex(0)));
    }

    [Fact]
    public void UndeclaredResource_IsNotLimited_ButUndeclaredModelIsZeroOnceAModelIsDeclared()
    {
        // Queue declares only cpu: accelerators are unlimited. Queue "m" declares V100 only: A100 is 0 for it.
        var s = Make.Scheduler(
            [Make.Node("n0", gpus: 8)],
            [Make.Queue("c", quotas: ("cpu", new ResourceQuota(64_000))), Make.Queue("m", quotas: ("accelerator/V100", ResourceQuota.Devices(8)))]);
        SubmitGpus(s, "free-gpus", "c", 4);
        SubmitGpus(s, "wrong-model", "m", 1);

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Admitted, s.Get("free-gpus")!.Phase);
        Assert.Equal(WorkloadPhase.Pending, s.Get("wrong-model")!.Phase);
        // Its quota leaves only V100, and no node has one: the reason says so.
        Assert.Contains("of V100", s.Get("wrong-model")!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ScuQuota_ChargesEachModelByItsWeight()
    {
        // 4 SCU: an H100 weighs 3 SCU, an A100 1 SCU. One H100 and one A100 fit (4 SCU); a second H100 does not.
        var nodes = new[] { Make.Node("h", gpus: 2, model: "H100"), Make.Node("a", gpus: 2, model: "A100") };
        var s = Make.Scheduler(nodes, [Make.Queue("q", quotas: ("scu", new ResourceQuota(4_000)))]);
        s.Accept(Make.Job("h1", podSets: Make.Pods(gpus: 1, models: "H100")));
        s.Accept(Make.Job("a1", podSets: Make.Pods(gpus: 1, models: "A100")));
        s.Accept(Make.Job("h2", podSets: Make.Pods(gpus: 1, models: "H100")));

        s.RunCycle(Make.T0);

        Assert.Equal(WorkloadPhase.Admitted, s.Get("h1")!.Phase);
        Assert.Equal(WorkloadPhase.Admitted, s.Get("a1")!.Phase);
        Assert.Equal(WorkloadPhase.Pending, s.Get("h2")!.Phase);
        Assert.Equal(4_000, s.Quotas.Usage("q", ResourceNames.ScuIndex));
    }

    [Fact]
    public void ScuQuota_AnyModelJob_FallsBackToTheCheaperModel()
    {
        // 1 SCU left: a job allowing H100 or A100 cannot afford an H100 (3 SCU) but can take an A100 (1 SCU).
        var nodes = new[] { Make.Node("h", gpus: 2, model: "H100"), Make.Node("a", gpus: 2, model: "A100") };
        var s = Make.Scheduler(nodes, [Make.Queue("q", quotas: ("scu", new ResourceQuota(1_000)))]);
        s.Accept(Make.Job("any", podSets: Make.Pods(gpus: 1, models: ["H100", "A100"])));

        s.RunCycle(Make.T0);

        Assert.Equal("a", Assert.Single(s.Get("any")!.Placements(s.Cluster)).Node);
    }

    [Fact]
    public void WaitingReason_NamesQueueResourceNominalAndWhatTheCohortCanLend()
    {
        var s = Center(Make.Queue("research", "labs", quotas: (A100, ResourceQuota.Devices(16))));
        SubmitGpus(s, "first", "research", 16);
        SubmitGpus(s, "second", "research", 8);

        s.RunCycle(Make.T0);

        var reason = s.Get("second")!.Reason!;
        Assert.Contains("queue research", reason, StringComparison.Ordinal);
        Assert.Contains("accelerator/A100", reason, StringComparison.Ordinal);
        Assert.Contains("nominal 16 devices", reason, StringComparison.Ordinal);
        Assert.Contains("in use 16 devices", reason, StringComparison.Ordinal);
        Assert.Contains("cohort labs has 0 devices to lend", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BadTree_ReportsEveryProblem()
    {
        var catalog = Make.Catalog();
        QueueSpec[] queues = [new() { Name = "q", Cohort = "ghost", Quotas = new Dictionary<string, ResourceQuota> { ["gpu"] = new(1), ["cpu"] = new(-1) } }];
        CohortSpec[] cohorts = [new() { Name = "x", Parent = "y" }, new() { Name = "y", Parent = "x" }];

        QuotaTree.Build(catalog, queues, cohorts, out var problems);

        Assert.Contains(problems, p => p.Contains("ghost", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("unknown resource 'gpu'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("must not be negative", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("its own ancestor", StringComparison.Ordinal));
    }
}
