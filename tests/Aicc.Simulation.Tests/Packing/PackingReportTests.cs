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
}
