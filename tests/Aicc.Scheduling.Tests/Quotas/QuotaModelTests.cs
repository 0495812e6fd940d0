using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Quotas;

/// <summary>The reference model's lending check, which the property tests trust to judge the scheduler.</summary>
public sealed class QuotaModelTests
{
    private static readonly AcceleratorCatalog Catalog = ClusterBuilder.DefaultCatalog();
    private static readonly int A100 = ResourceNames.IndexOf("accelerator/A100", Catalog);

    /// <summary>root ← a (4 GPUs, lends all) and mid (1, lends 0) ← b (4, lends 1): b keeps 3, mid keeps 2.</summary>
    private static QuotaModel Model() => new(
        Catalog,
        [Make.Cohort("root"), Make.Cohort("mid").Under("root").Gpus("A100", 1, lendingLimit: 0)],
        [Make.Queue("a").Gpus("A100", 4).InCohort("root"), Make.Queue("b").Gpus("A100", 4, lendingLimit: 1).InCohort("mid")]);

    private static Dictionary<string, long> Use(long a, long b) => new() { ["a"] = a, ["b"] = b };

    private static string? Lending(QuotaModel model, Dictionary<string, long> before, Dictionary<string, long> after)
    {
        var e = model.Evaluate(A100, after);
        return e.LendingProblem(e.IndexOf("root"), model.Evaluate(A100, before));
    }

    [Fact]
    public void LendingProblem_BorrowingIntoANestedGuarantee_IsNamed()
    {
        // The tree holds 9 GPUs; b and mid keep 5 of them. a may take 4, not 5.
        Assert.Null(Lending(Model(), Use(0, 0), Use(4000, 0)));

        var problem = Lending(Model(), Use(0, 0), Use(5000, 0));

        Assert.NotNull(problem);
        Assert.Contains("b keeps 3000, uses 0", problem, StringComparison.Ordinal);
        Assert.Contains("mid keeps 2000, uses 0", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LendingProblem_TreeOverCommittedByDecrease_AllowsOwnGuaranteeButNoBorrowing()
    {
        var model = Model();
        model.SetQuotas("a", new Dictionary<string, ResourceQuota> { ["accelerator/A100"] = ResourceQuota.Devices(1) });

        // a holds 4 from before the decrease: the tree (6 GPUs) has promised 4 + 5 = 9.
        Assert.NotNull(Lending(model, Use(0, 0), Use(4000, 0)));

        // b using its own guarantee, and then mid's, changes nothing the tree promised.
        Assert.Null(Lending(model, Use(4000, 0), Use(4000, 3000)));
        Assert.Null(Lending(model, Use(4000, 3000), Use(4000, 5000)));

        // Anyone taking more than that adds to the breach.
        Assert.NotNull(Lending(model, Use(4000, 5000), Use(4000, 6000)));
        Assert.NotNull(Lending(model, Use(4000, 0), Use(5000, 0)));
    }
}
