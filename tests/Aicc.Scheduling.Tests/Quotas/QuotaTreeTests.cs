using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Quotas;

/// <summary>Hand-computed hierarchical quota cases. All accelerator figures are milli-devices (1 GPU = 1000).</summary>
public sealed class QuotaTreeTests
{
    private static readonly AcceleratorCatalog Catalog = ClusterBuilder.DefaultCatalog();
    private static readonly int A100 = ResourceNames.IndexOf("accelerator/A100", Catalog);
    private static readonly int H100 = ResourceNames.IndexOf("accelerator/H100", Catalog);

    private static QuotaTree Tree(CohortSpec[] cohorts, params QueueSpec[] queues)
    {
        var tree = QuotaTree.Build(Catalog, queues, cohorts, out var problems);
        Assert.Empty(problems);
        return tree;
    }

    private static void Use(QuotaTree tree, string queue, int resource, long amount)
    {
        var delta = new long[ResourceNames.Count];
        delta[resource] = amount;
        tree.AddUsage(tree.QueueIndex(queue), delta);
    }

    private static long Available(QuotaTree tree, string queue, int resource) => tree.Available(tree.QueueIndex(queue), resource);

    [Fact]
    public void Available_SiblingIdle_BorrowsItsQuotaThroughTheCohort()
    {
        var tree = Tree([Make.Cohort("c")], Make.Queue("a").Gpus("A100", 4).InCohort("c"), Make.Queue("b").Gpus("A100", 4).InCohort("c"));

        // c's subtree quota = 4 + 4 = 8 devices; nothing used.
        Assert.Equal(8000, Available(tree, "a", A100));
        Use(tree, "b", A100, 3000);

        // b holds 3 of the 8.
        Assert.Equal(5000, Available(tree, "a", A100));
        Assert.Equal(3000, tree.Usage("c", A100));
    }

    [Fact]
    public void Available_BorrowingLimit_CapsWhatTheQueueTakesBeyondItsNominal()
    {
        var tree = Tree([Make.Cohort("c")], Make.Queue("a").Gpus("A100", 4, borrowingLimit: 1).InCohort("c"), Make.Queue("b").Gpus("A100", 4).InCohort("c"));

        // min(cohort's 8 free, a's stored 4 − used 0 + borrowing 1) = 5.
        Assert.Equal(5000, Available(tree, "a", A100));
        Use(tree, "a", A100, 5000);
        Assert.Equal(0, Available(tree, "a", A100));
        Assert.Empty(tree.Violations());

        // b still has its own 4 − the 1 a borrowed = 3.
        Assert.Equal(3000, Available(tree, "b", A100));
    }

    [Fact]
    public void Available_LendingLimit_KeepsTheRestGuaranteedToItsOwner()
    {
        var tree = Tree([Make.Cohort("c")], Make.Queue("a").Gpus("A100", 4).InCohort("c"), Make.Queue("b").Gpus("A100", 4, lendingLimit: 1).InCohort("c"));

        // b lends at most 1 of its 4, so 3 are guaranteed to b: c's subtree = 4 + (4 − 3) = 5.
        Assert.Equal(5000, Available(tree, "a", A100));
        Use(tree, "a", A100, 5000);

        // a took everything lendable; b still gets its 3 guaranteed, no more.
        Assert.Equal(3000, Available(tree, "b", A100));
        Use(tree, "b", A100, 3000);
        Assert.Equal(0, Available(tree, "b", A100));
        Assert.Empty(tree.Violations());
    }

    [Fact]
    public void Available_NestedCohorts_SumsLendableQuotaAndAppliesEveryBorrowingLimitOnTheWay()
    {
        var tree = Tree(
            [Make.Cohort("root").Gpus("A100", 2), Make.Cohort("left").Under("root").Gpus("A100", 0, borrowingLimit: 1), Make.Cohort("right").Under("root")],
            Make.Queue("a").Gpus("A100", 2).InCohort("left"),
            Make.Queue("b").Gpus("A100", 2).InCohort("left"),
            Make.Queue("x").Gpus("A100", 4, lendingLimit: 0).InCohort("right"));

        // right lends nothing (x keeps all 4): root subtree = own 2 + left 4 + right 0 = 6.
        Assert.Equal(6000, tree.SubtreeAt(FindCohort(tree, "root"), A100));

        // a: left's 4 stored in root + left's borrowing limit 1 = 5 (root itself has 6 free).
        Assert.Equal(5000, Available(tree, "a", A100));

        // x: its 4 guaranteed + all 6 of root (no borrowing limit on x or right) = 10.
        Assert.Equal(10_000, Available(tree, "x", A100));

        Use(tree, "x", A100, 6000);

        // x's first 4 stay below its guaranteed part; the other 2 take root's own quota: root has 6 − 2 = 4.
        Assert.Equal(2000, tree.Usage("root", A100));
        Assert.Equal(4000, Available(tree, "a", A100));
    }

    private static int FindCohort(QuotaTree tree, string name)
    {
        for (var i = 0; ; i++)
        {
            if (tree.NameAt(i) == name)
            {
                return i;
            }
        }
    }

    [Fact]
    public void Available_CohortOwnQuota_IsLentToItsQueues()
    {
        var tree = Tree([Make.Cohort("c").Gpus("A100", 3)], Make.Queue("a").Gpus("A100", 0).InCohort("c"));

        Assert.Equal(3000, Available(tree, "a", A100));
    }

    [Fact]
    public void Available_ResourceNoNodeDeclares_IsUnlimitedButUndeclaredModelIsZero()
    {
        var tree = Tree([Make.Cohort("c")], Make.Queue("a").Gpus("A100", 2).InCohort("c"));

        Assert.Equal(long.MaxValue, Available(tree, "a", ResourceNames.CpuIndex));
        Assert.False(tree.IsConstrained(tree.QueueIndex("a"), ResourceNames.CpuIndex));

        // Once the tree declares one model, a model it does not declare has quota 0.
        Assert.Equal(0, Available(tree, "a", H100));
    }

    [Fact]
    public void Available_SeparateTrees_DoNotLendToEachOther()
    {
        var tree = Tree([Make.Cohort("c1"), Make.Cohort("c2")], Make.Queue("a").Gpus("A100", 2).InCohort("c1"), Make.Queue("b").Gpus("A100", 6).InCohort("c2"));

        Assert.Equal(2000, Available(tree, "a", A100));
    }

    [Fact]
    public void SetQuotas_DecreaseBelowUsage_KeepsUsageReportsViolationAndAdmitsNothingMore()
    {
        var tree = Tree([], Make.Queue("a").Gpus("A100", 4));
        Use(tree, "a", A100, 4000);

        Assert.Empty(tree.SetQuotas("a", new Dictionary<string, ResourceQuota> { ["accelerator/A100"] = ResourceQuota.Devices(2) }));

        Assert.Equal(4000, tree.Usage("a", A100));
        Assert.Equal(0, Available(tree, "a", A100));
        var violation = Assert.Single(tree.Violations());
        Assert.Equal("queue a: accelerator/A100 usage 4000 > limit 2000", violation);

        Assert.Empty(tree.SetQuotas("a", new Dictionary<string, ResourceQuota> { ["accelerator/A100"] = ResourceQuota.Devices(6) }));
        Assert.Equal(2000, Available(tree, "a", A100));
        Assert.Empty(tree.Violations());
    }

    [Fact]
    public void SetQuotas_UnknownResourceOrTarget_NamesTheProblemAndChangesNothing()
    {
        var tree = Tree([], Make.Queue("a").Gpus("A100", 4));

        var problems = tree.SetQuotas("a", new Dictionary<string, ResourceQuota> { ["accelerator/Z9"] = new(1), ["gpu"] = new(-1) });

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("'accelerator/Z9'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'gpu'", StringComparison.Ordinal));
        Assert.Equal(4000, Available(tree, "a", A100));
        Assert.Equal(["no queue or cohort named 'nope'"], tree.SetQuotas("nope", new Dictionary<string, ResourceQuota>()));
    }

    [Fact]
    public void Build_BadTree_NamesEveryProblem()
    {
        QuotaTree.Build(
            Catalog,
            [Make.Queue("a").InCohort("missing"), Make.Queue("a"), Make.Queue("b").Quota("cpu", -5)],
            [Make.Cohort("x").Under("y"), Make.Cohort("y").Under("x"), Make.Cohort("z").Under("nowhere")],
            out var problems);

        Assert.Contains(problems, p => p.Contains("cohort 'missing'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("queue 'a' is declared twice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("must not be negative", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("its own ancestor", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("parent 'nowhere'", StringComparison.Ordinal));
    }

    [Fact]
    public void AddUsage_ChargeAndRelease_ReturnsEveryNodeToZero()
    {
        var tree = Tree(
            [Make.Cohort("root"), Make.Cohort("mid").Under("root").Gpus("A100", 1, lendingLimit: 0)],
            Make.Queue("a").Gpus("A100", 2, lendingLimit: 1).InCohort("mid"));
        Use(tree, "a", A100, 3000);

        // a keeps 1 guaranteed, so mid sees 2; mid's subtree = 1 + 1 = 2, all guaranteed (lends 0), so root sees 0.
        Assert.Equal(2000, tree.Usage("mid", A100));
        Assert.Equal(0, tree.Usage("root", A100));

        Use(tree, "a", A100, -3000);
        Assert.All(tree.UsageSnapshot(), u => Assert.Equal(0, u));
    }
}
