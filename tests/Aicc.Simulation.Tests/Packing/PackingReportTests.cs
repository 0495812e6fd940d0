using Aicc.Simulation.Packing;

namespace Aicc.Simulation.Tests.Packing;

public sealed class PackingReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aicc-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Two published pod lists; FGD reaches 90 / 91 on both, gpupacking 80 / 81.
    private PublishedResults Published()
    {
        var path = Path.Combine(_dir, "fgd_summary.csv");
        File.WriteAllLines(path,
        [
            "workload,policy,seeds,alloc_pct_mean@100,alloc_pct_mean@130,frag_ratio_pct_mean@90",
            "a,06-FGD,10,90,91,50",
            "b,06-FGD,10,90,91,50",
            "a,04-GpuPacking,10,80,81,70",
            "b,04-GpuPacking,10,80,81,70",
        ]);
        var problems = new List<string>();
        var published = PublishedResults.Read(path, problems);
        Assert.Empty(problems);
        return published;
    }

    // A result whose allocation is `at100` at 100% and `at130` at 130% load, and `frag` at 90%.
    private static PackingResult Result(string workload, string policy, double at100, double at130, double frag = 50)
    {
        var alloc = new double[PackingSimulation.MaxLoadPct + 1];
        var fragmentation = new double[PackingSimulation.MaxLoadPct + 1];
        alloc[100] = at100;
        alloc[130] = at130;
        fragmentation[90] = frag;
        return new PackingResult(workload, policy, [new SeedCurve(42, alloc, fragmentation, 10, 0, 1)], 100, 0);
    }

    private static PackingReport Report(PublishedResults published, params PackingResult[] results) =>
        new(results, published, 0.5, new Dictionary<string, double>());

    [Fact]
    public void The_average_gain_target_is_checked_only_over_every_published_pod_list()
    {
        var published = Published();

        // On one list of two, +0.1 over FGD meets "at or above FGD" and the average is not judged.
        var partial = Report(published, Result("a", "aicc", 90.1, 91.1));
        Assert.Empty(partial.Failures());
        Assert.Contains("not checked here", partial.ToMarkdown([42], 1, []), StringComparison.Ordinal);

        // On both lists the same +0.1 misses the +0.5 average.
        var full = Report(published, Result("a", "aicc", 90.1, 91.1), Result("b", "aicc", 90.1, 91.1));
        var failure = Assert.Single(full.Failures());
        Assert.Contains("+0.10 points over FGD on average", failure, StringComparison.Ordinal);

        // +0.6 on both lists meets it.
        Assert.Empty(Report(published, Result("a", "aicc", 90.6, 91.6), Result("b", "aicc", 90.6, 91.6)).Failures());
    }

    [Fact]
    public void A_policy_below_fgd_on_one_list_fails_even_on_a_partial_run()
    {
        var report = Report(Published(), Result("a", "aicc", 90.2, 90.9));
        var failure = Assert.Single(report.Failures());
        Assert.StartsWith("a aicc: below FGD", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Baselines_are_held_to_the_tolerance_and_the_fragmentation_band()
    {
        var published = Published();
        Assert.Empty(Report(published, Result("a", "gpupacking", 80.4, 80.6, 71.9)).Failures());

        var failures = Report(published, Result("a", "gpupacking", 80.6, 81, 67.5)).Failures();
        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.Contains("allocation off by +0.60 at 100%", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("fragmentation ratio at 90% off by -2.50", StringComparison.Ordinal));
    }

    [Fact]
    public void Welch_HandComputed()
    {
        // Means 2 and 5, variances 1 and 1, three values each: t = −3 / √(2/3).
        Assert.Equal(-3 / Math.Sqrt(2.0 / 3), PackingReport.Welch([1, 2, 3], [4, 5, 6]), 12);
        Assert.True(double.IsNaN(PackingReport.Welch([1, 2, 3], null)));
        Assert.True(double.IsNaN(PackingReport.Welch([1], [4, 5])));
        Assert.True(double.IsNaN(PackingReport.Welch([2, 2], [2, 2])));
    }

    [Fact]
    public void PublishedSeeds_BesideTheSummary_GiveEachDeltaItsT()
    {
        var published = Published();
        var loads = string.Join(',', Enumerable.Range(0, PackingSimulation.MaxLoadPct + 1));
        string Row(string policy, int seed, double at100, double at130, double at90) =>
            $"a,{policy},1.3,{seed},100," + string.Join(',', Enumerable.Range(0, PackingSimulation.MaxLoadPct + 1)
                .Select(k => (k == 100 ? at100 : k == 130 ? at130 : k == 90 ? at90 : k).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        File.WriteAllLines(Path.Combine(_dir, "analysis_allo_discrete.csv"),
            [$"workload,sc_policy,tune,seed,total_gpus,{loads}", Row("04-GpuPacking", 42, 79.5, 80.5, 0), Row("04-GpuPacking", 43, 80.5, 81.5, 0)]);
        File.WriteAllLines(Path.Combine(_dir, "analysis_frag_ratio_discrete.csv"),
            [$"workload,sc_policy,tune,seed,total_gpus,{loads}", Row("04-GpuPacking", 42, 0, 0, 68), Row("04-GpuPacking", 43, 0, 0, 72)]);
        var problems = new List<string>();
        published = PublishedResults.Read(Path.Combine(_dir, "fgd_summary.csv"), problems);
        Assert.Empty(problems);
        Assert.Equal([79.5, 80.5], published.Seeds("a", "gpupacking", "alloc@100"));
        Assert.Equal([68.0, 72.0], published.Seeds("a", "gpupacking", "frag@90"));

        // Ours: 81 and 82 at 100% (mean 81.5, variance 0.5) against 79.5 and 80.5 (80, 0.5): t = 1.5 / √0.5.
        var alloc = new double[PackingSimulation.MaxLoadPct + 1];
        var frag = new double[PackingSimulation.MaxLoadPct + 1];
        SeedCurve Seed(int seed, double at100)
        {
            var a = (double[])alloc.Clone();
            a[100] = at100;
            a[130] = at100 + 1;
            var f = (double[])frag.Clone();
            f[90] = 70;
            return new SeedCurve(seed, a, f, 10, 0, 1);
        }

        var result = new PackingResult("a", "gpupacking", [Seed(42, 81), Seed(43, 82)], 100, 0);
        var row = Assert.Single(new PackingReport([result], published, 0.5, new Dictionary<string, double>()).Rows);

        Assert.Equal(1.5 / Math.Sqrt(0.5), row.T.At100, 9);
        Assert.Equal(1.5 / Math.Sqrt(0.5), row.T.At130, 9);
        Assert.Equal(0, row.T.Frag90, 12); // 70 and 70 against 68 and 72: same mean
    }
}
