namespace Aicc.Simulation.Replay;

/// <summary>A tenant's queueing in the shared cluster and alone in a private cluster the size of its quota.</summary>
public sealed record TenantQueueing(
    string Tenant,
    int Jobs,
    int QuotaGpus,
    double AvgQueueSeconds,
    double P95QueueSeconds,
    double? PrivateAvgQueueSeconds,
    double? PrivateP95QueueSeconds,
    int PrivateUnrunnableJobs,
    double? ComparableAvgQueueSeconds = null,
    double QuotaShortfallGpuSeconds = 0)
{
    /// <summary>Shared over private average queueing (≤ 1: the tenant is no worse off sharing), over the same
    /// jobs: those wider than the quota cannot run alone, so the shared side leaves them out too
    /// (<see cref="ComparableAvgQueueSeconds"/>). Both sides get one second added so that a tenant that
    /// never waits alone does not divide by zero.</summary>
    public double? Ratio => PrivateAvgQueueSeconds is { } p ? ((ComparableAvgQueueSeconds ?? AvgQueueSeconds) + 1) / (p + 1) : null;
}

/// <summary>The figures of one replay, as <c>aicc sim replay --json</c> prints them.</summary>
public sealed record ReplaySummary
{
    public required string Policy { get; init; }

    public required int Gpus { get; init; }

    public required double OfferedLoad { get; init; }

    public required int Jobs { get; init; }

    public required int Finished { get; init; }

    public required double AvgJctSeconds { get; init; }

    public required double P50JctSeconds { get; init; }

    public required double P99JctSeconds { get; init; }

    public required double AvgQueueSeconds { get; init; }

    public required double MakespanSeconds { get; init; }

    public required double GpuUtilPercent { get; init; }

    public required double JctLowerBoundSeconds { get; init; }

    /// <summary>Mean JCT no schedule can beat on this cluster (<see cref="JctBounds.Capacity"/>).</summary>
    public required double JctCapacityBoundSeconds { get; init; }

    /// <summary>The tighter mean busy time bound (<see cref="JctBounds.BusyTime"/>), when it was asked for
    /// (<c>--tight-bound</c>: a minute on the full Philly trace).</summary>
    public double? JctBusyTimeBoundSeconds { get; init; }

    public required IReadOnlyList<TenantQueueing> PerTenant { get; init; }

    public required int Preemptions { get; init; }

    public required int Rejected { get; init; }

    public required IReadOnlyList<string> Violations { get; init; }

    public double WallSeconds { get; init; }

    public TenantQueueing? WorstTenant => PerTenant.Where(t => t.Ratio is not null).MaxBy(t => t.Ratio);

    /// <summary>The JSON object: the keys first, then context.</summary>
    public Dictionary<string, object?> ToJson() => new()
    {
        ["jobs"] = Jobs,
        ["avg_jct_s"] = Round(AvgJctSeconds),
        ["p50_jct_s"] = Round(P50JctSeconds),
        ["p99_jct_s"] = Round(P99JctSeconds),
        ["avg_queue_s"] = Round(AvgQueueSeconds),
        ["makespan_s"] = Round(MakespanSeconds),
        ["gpu_util_pct"] = Round(GpuUtilPercent, 2),
        ["jct_lower_bound_s"] = Round(JctLowerBoundSeconds),
        ["jct_capacity_bound_s"] = Round(JctCapacityBoundSeconds),
        ["jct_busy_time_bound_s"] = JctBusyTimeBoundSeconds is { } busy ? Round(busy) : null,
        ["per_tenant"] = PerTenant.ToDictionary(t => t.Tenant, t => (object?)new Dictionary<string, object?>
        {
            ["jobs"] = t.Jobs,
            ["quota_gpus"] = t.QuotaGpus,
            ["avg_queue_s"] = Round(t.AvgQueueSeconds),
            ["p95_queue_s"] = Round(t.P95QueueSeconds),
            ["private_avg_queue_s"] = t.PrivateAvgQueueSeconds is { } a ? Round(a) : null,
            ["private_p95_queue_s"] = t.PrivateP95QueueSeconds is { } p ? Round(p) : null,
            ["private_unrunnable_jobs"] = t.PrivateUnrunnableJobs,
            ["comparable_avg_queue_s"] = t.ComparableAvgQueueSeconds is { } c ? Round(c) : null,
            ["queue_ratio"] = t.Ratio is { } r ? Round(r, 3) : null,
            ["quota_shortfall_gpu_s"] = Round(t.QuotaShortfallGpuSeconds),
        }),
        ["preemptions"] = Preemptions,
        ["wall_s"] = Round(WallSeconds, 3),
        ["policy"] = Policy,
        ["gpus"] = Gpus,
        ["offered_load"] = Round(OfferedLoad, 3),
        ["finished"] = Finished,
        ["rejected"] = Rejected,
        ["worst_tenant"] = WorstTenant?.Tenant,
        ["worst_tenant_queue_ratio"] = WorstTenant?.Ratio is { } w ? Round(w, 3) : null,
        ["invariant_violations"] = Violations.Count,
    };

    private static double Round(double value, int digits = 1) => Math.Round(value, digits);
}

/// <summary>Turns replays into figures; runs the private-cluster baselines.</summary>
public static class ReplayReport
{
    /// <summary>Summarises <paramref name="run"/>; <paramref name="privateRuns"/> (tenant → its replay alone
    /// on its quota) fill the safety columns.</summary>
    public static ReplaySummary Summarize(ReplayRun run, IReadOnlyDictionary<string, ReplayRun>? privateRuns = null, double? wallSeconds = null)
    {
        var all = run.Jobs;
        var done = all.Where(j => j.Finished).ToArray();
        var jct = done.Select(j => j.Jct).Order().ToArray();
        var first = all.Length == 0 ? 0 : all.Min(j => j.Submit);
        var makespan = done.Length == 0 ? 0 : done.Max(j => j.End) - first;
        var gpus = run.Options.Cluster.TotalGpus;
        var span = Math.Max(1, run.Options.Trace.SpanSeconds);
        var perTenant = new List<TenantQueueing>();
        var traceJobs = run.Options.Trace.Jobs;
        foreach (var g in all.Select((j, i) => (Job: j, Id: traceJobs[i].Id)).Where(x => x.Job.Finished)
            .GroupBy(x => x.Job.Tenant, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var queue = g.Select(x => x.Job.Queueing).Order().ToArray();
            double? privateAvg = null, privateP95 = null, comparable = null;
            var unrunnable = 0;
            if (privateRuns is not null && privateRuns.TryGetValue(g.Key, out var alone))
            {
                var pq = alone.Jobs.Where(j => j.Finished).Select(j => j.Queueing).Order().ToArray();
                unrunnable = alone.Rejected.Count;
                if (pq.Length > 0)
                {
                    privateAvg = pq.Average();
                    privateP95 = Percentile(pq, 0.95);
                    var cannotRunAlone = alone.Rejected.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
                    var same = g.Where(x => !cannotRunAlone.Contains(x.Id)).Select(x => x.Job.Queueing).ToArray();
                    comparable = same.Length > 0 ? same.Average() : null;
                }
            }

            perTenant.Add(new TenantQueueing(g.Key, g.Count(), run.TenantQuotas.GetValueOrDefault(g.Key), queue.Average(), Percentile(queue, 0.95), privateAvg, privateP95, unrunnable, comparable,
                run.QuotaShortfallGpuSeconds.GetValueOrDefault(g.Key)));
        }

        return new ReplaySummary
        {
            Policy = run.Options.Policy.Name,
            Gpus = gpus,
            OfferedLoad = run.Options.Trace.TotalGpuSeconds / (gpus * span),
            Jobs = all.Length,
            Finished = done.Length,
            AvgJctSeconds = jct.Length == 0 ? 0 : jct.Average(),
            P50JctSeconds = Percentile(jct, 0.50),
            P99JctSeconds = Percentile(jct, 0.99),
            AvgQueueSeconds = done.Length == 0 ? 0 : done.Average(j => j.Queueing),
            MakespanSeconds = makespan,
            GpuUtilPercent = makespan <= 0 ? 0 : 100 * done.Sum(j => j.Gpus * j.Duration) / (gpus * makespan),
            JctLowerBoundSeconds = JctBounds.MeanDuration(done),
            JctCapacityBoundSeconds = JctBounds.Capacity(done, gpus),
            PerTenant = perTenant,
            Preemptions = run.Preemptions,
            Rejected = run.Rejected.Count,
            Violations = run.Violations,
            WallSeconds = wallSeconds ?? run.WallSeconds,
        };
    }

    /// <summary>Each tenant's jobs alone on a uniform cluster of its quota (same policy, one queue), in parallel.</summary>
    public static IReadOnlyDictionary<string, ReplayRun> RunPrivateClusters(ReplayOptions options, IReadOnlyDictionary<string, int> quotas)
    {
        var cluster = options.Cluster;
        var tenants = quotas.Where(q => q.Value > 0).Select(q => q.Key).Order(StringComparer.Ordinal).ToList();
        var runs = new ReplayRun[tenants.Count];
        var policy = options.Policy with { Layout = QueueLayout.Shared };
        Parallel.For(0, tenants.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var quota = quotas[tenants[i]];
            runs[i] = ReplayEngine.Run(options with
            {
                Trace = options.Trace.OfTenant(tenants[i]),
                Cluster = ReplayCluster.Uniform(quota, Math.Max(1, cluster.GpusPerNode), cluster.Model),
                Policy = policy,
                TenantQuotas = null,
                Progress = null,
            });
        });

        return tenants.Select((t, i) => (t, runs[i])).ToDictionary(x => x.t, x => x.Item2, StringComparer.Ordinal);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
