using System.Globalization;
using System.Text;

namespace Aicc.Simulation.Packing;

/// <summary>One row of the comparison: our figure beside the published one.</summary>
public sealed record ComparisonRow(string Workload, string Policy, string Against, double Ours100, double Theirs100, double Ours130, double Theirs130, double OursFrag90, double TheirsFrag90, bool Beat)
{
    /// <summary>Welch's t of our seeds against the published seeds at 100% and 130% load and for the
    /// fragmentation ratio at 90%: how many standard errors each Δ is (NaN without per-seed figures).</summary>
    public (double At100, double At130, double Frag90) T { get; init; } = (double.NaN, double.NaN, double.NaN);

    public double Delta100 => Ours100 - Theirs100;

    public double Delta130 => Ours130 - Theirs130;

    public double DeltaFrag90 => OursFrag90 - TheirsFrag90;
}

/// <summary>
/// The Markdown and CSV report of <c>aicc sim pack-compare</c>. Baselines are compared with the published
/// figure of the same policy (fidelity: ±<see cref="Tolerance"/> points of allocation at 100% and 130%
/// load, ±2 points of fragmentation ratio at 90%; a policy with a documented known gap gets that much more
/// allocation allowance and its fragmentation is reported, not enforced); <c>aicc</c> — and any policy without a published row
/// of its own — with published FGD, which it must match or beat.
/// </summary>
public sealed class PackingReport(IReadOnlyList<PackingResult> results, PublishedResults? published, double tolerance, IReadOnlyDictionary<string, double> knownGaps)
{
    public const double FragTolerance = 2;

    /// <summary>How far above published FGD the beat-FGD policy must be, averaged over 100% and 130% and every pod list.</summary>
    public const double AverageGainTarget = 0.5;

    public double Tolerance => tolerance;

    public IReadOnlyList<ComparisonRow> Rows { get; } = Compare(results, published);

    /// <summary>Every target missed, one line each.</summary>
    public IReadOnlyList<string> Failures()
    {
        var failures = new List<string>();
        foreach (var row in Rows.Where(r => !double.IsNaN(r.Theirs100)))
        {
            if (row.Beat)
            {
                if (row.Delta100 < -1e-9 || row.Delta130 < -1e-9)
                {
                    failures.Add($"{row.Workload} {row.Policy}: below FGD ({row.Delta100:+0.00;-0.00} at 100%, {row.Delta130:+0.00;-0.00} at 130%)");
                }

                continue;
            }

            var allowed = tolerance + knownGaps.GetValueOrDefault(row.Policy);
            if (Math.Abs(row.Delta100) > allowed || Math.Abs(row.Delta130) > allowed)
            {
                failures.Add($"{row.Workload} {row.Policy}: allocation off by {row.Delta100:+0.00;-0.00} at 100%, {row.Delta130:+0.00;-0.00} at 130% (allowed ±{allowed:0.00})");
            }

            if (!double.IsNaN(row.TheirsFrag90) && !knownGaps.ContainsKey(row.Policy) && Math.Abs(row.DeltaFrag90) > FragTolerance)
            {
                failures.Add($"{row.Workload} {row.Policy}: fragmentation ratio at 90% off by {row.DeltaFrag90:+0.00;-0.00}");
            }
        }

        foreach (var policy in Rows.Where(r => r.Beat && !double.IsNaN(r.Theirs100)).GroupBy(r => r.Policy))
        {
            var mean = policy.Average(r => (r.Delta100 + r.Delta130) / 2);
            if (CoversAllWorkloads(policy) && mean < AverageGainTarget)
            {
                failures.Add($"{policy.Key}: {mean:+0.00;-0.00} points over FGD on average; the target is +{AverageGainTarget:0.00}");
            }
        }

        return failures;
    }

    /// <summary>
    /// The +0.5 point target is an average over every published pod list; a run on fewer lists (the reduced
    /// CI check runs only the default one) reports its average but cannot miss or meet that target.
    /// </summary>
    private bool CoversAllWorkloads(IEnumerable<ComparisonRow> rows)
    {
        var lists = published?.Workloads("fgd") ?? new HashSet<string>();
        return lists.Count > 0 && lists.IsSubsetOf(rows.Select(r => r.Workload));
    }

    public string ToCsv()
    {
        var sb = new StringBuilder("workload,policy,compared_with,alloc_pct@100,published@100,delta@100,alloc_pct@130,published@130,delta@130,frag_ratio_pct@90,published_frag@90,delta_frag@90,t@100,t@130,t_frag@90\n");
        foreach (var r in Rows)
        {
            sb.AppendLine(string.Join(',', r.Workload, r.Policy, r.Against, F(r.Ours100), F(r.Theirs100), F(r.Delta100), F(r.Ours130), F(r.Theirs130), F(r.Delta130), F(r.OursFrag90), F(r.TheirsFrag90), F(r.DeltaFrag90), F(r.T.At100), F(r.T.At130), F(r.T.Frag90)));
        }

        return sb.ToString();
    }

    public string ToMarkdown(IReadOnlyList<int> seeds, double wallSeconds, IEnumerable<string> plots)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Packing comparison (FGD protocol)");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Seeds {string.Join(", ", seeds)}; tune 1.3; {results.Count} runs of {results.Count * seeds.Count} seeds in {wallSeconds:0.0} s.");
        sb.AppendLine("Allocation = GPUs allocated, % of capacity, at 100% / 130% arrived GPU demand; frag = fragmentation ratio (%) at 90%.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Baselines are compared with the published 10-seed mean of the same policy (target ±{tolerance:0.0} pt, frag ±{FragTolerance:0} pt); `aicc` with published FGD (target ≥ 0, +0.5 pt on average).");
        sb.AppendLine();
        sb.AppendLine("Welch's t: each Δ in standard errors of the difference between our seeds and the published seeds (|t| ≲ 2: within seed noise).");
        sb.AppendLine();
        sb.AppendLine("| workload | policy | vs | alloc@100 | published | Δ | alloc@130 | published | Δ | frag@90 | published | Δ | t (100 / 130 / frag) | |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        var failures = Failures();
        foreach (var r in Rows)
        {
            var ok = !failures.Any(f => f.StartsWith($"{r.Workload} {r.Policy}:", StringComparison.Ordinal));
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {Short(r.Workload)} | {r.Policy} | {r.Against} | {F(r.Ours100)} | {F(r.Theirs100)} | {D(r.Delta100)} | {F(r.Ours130)} | {F(r.Theirs130)} | {D(r.Delta130)} | {F(r.OursFrag90)} | {F(r.TheirsFrag90)} | {D(r.DeltaFrag90)} | {Ts(r.T)} | {(double.IsNaN(r.Theirs100) ? "" : ok ? "✓" : "✗")} |");
        }

        foreach (var policy in Rows.Where(r => r.Beat && !double.IsNaN(r.Theirs100)).GroupBy(r => r.Policy))
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"**{policy.Key} vs published FGD**: {policy.Average(r => r.Delta100):+0.00;-0.00} pt at 100%, {policy.Average(r => r.Delta130):+0.00;-0.00} pt at 130% on average over {policy.Count()} workloads; worst {policy.Min(r => Math.Min(r.Delta100, r.Delta130)):+0.00;-0.00} pt.");
            if (!CoversAllWorkloads(policy))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"(The +{AverageGainTarget:0.0} pt average target is over all {published!.Workloads("fgd").Count} published pod lists; this run has {policy.Count()}, so it is not checked here.)");
            }
        }

        sb.AppendLine();
        sb.AppendLine(failures.Count == 0 ? "All targets met." : "Targets missed:");
        foreach (var f in failures)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {f}");
        }

        sb.AppendLine();
        foreach (var plot in plots)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"![{plot}]({plot})");
        }

        return sb.ToString();
    }

    private static List<ComparisonRow> Compare(IReadOnlyList<PackingResult> results, PublishedResults? published)
    {
        var rows = new List<ComparisonRow>();
        foreach (var r in results)
        {
            var against = published is not null && published.TryGet(r.Workload, r.Policy, "alloc_pct_mean@100", out _) ? r.Policy : "fgd";
            var beat = against != r.Policy;
            double theirs100 = double.NaN, theirs130 = double.NaN, theirsFrag = double.NaN;
            published?.TryGet(r.Workload, against, "alloc_pct_mean@100", out theirs100);
            published?.TryGet(r.Workload, against, "alloc_pct_mean@130", out theirs130);
            published?.TryGet(r.Workload, against, "frag_ratio_pct_mean@90", out theirsFrag);
            rows.Add(new ComparisonRow(r.Workload, r.Policy, against, Math.Round(r.AllocPct(100), 2), theirs100, Math.Round(r.AllocPct(130), 2), theirs130, Math.Round(r.FragRatioPct(90), 2), theirsFrag, beat)
            {
                T = (Welch([.. r.Seeds.Select(s => s.AllocPct[100])], published?.Seeds(r.Workload, against, "alloc@100")),
                    Welch([.. r.Seeds.Select(s => s.AllocPct[130])], published?.Seeds(r.Workload, against, "alloc@130")),
                    Welch([.. r.Seeds.Select(s => s.FragRatioPct[90])], published?.Seeds(r.Workload, against, "frag@90"))),
            });
        }

        return rows;
    }

    /// <summary>Welch's t of the difference of two means (ours − theirs); NaN with fewer than two values on a
    /// side or no spread on either.</summary>
    public static double Welch(IReadOnlyList<double> ours, IReadOnlyList<double>? theirs)
    {
        if (theirs is null || ours.Count < 2 || theirs.Count < 2)
        {
            return double.NaN;
        }

        static (double Mean, double Variance) Moments(IReadOnlyList<double> x)
        {
            var mean = x.Average();
            return (mean, x.Sum(v => (v - mean) * (v - mean)) / (x.Count - 1));
        }

        var (m1, v1) = Moments(ours);
        var (m2, v2) = Moments(theirs);
        var se = Math.Sqrt((v1 / ours.Count) + (v2 / theirs.Count));
        return se > 0 ? (m1 - m2) / se : double.NaN;
    }

    private static string Short(string workload) => workload.Replace("openb_pod_list_", "", StringComparison.Ordinal);

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Ts((double At100, double At130, double Frag90) t) =>
        double.IsNaN(t.At100) && double.IsNaN(t.At130) && double.IsNaN(t.Frag90) ? "" : $"{T1(t.At100)} / {T1(t.At130)} / {T1(t.Frag90)}";

    private static string T1(double v) => double.IsNaN(v) ? "–" : v.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);

    private static string D(double v) => double.IsNaN(v) ? "" : v.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
}
