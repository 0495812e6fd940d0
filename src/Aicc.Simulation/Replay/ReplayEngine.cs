using System.Diagnostics;
using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Simulation.Engine;
using Aicc.Simulation.Traces;

namespace Aicc.Simulation.Replay;

/// <summary>What to replay, where and how.</summary>
public sealed record ReplayOptions
{
    public required JobTrace Trace { get; init; }

    public required ReplayCluster Cluster { get; init; }

    public required ReplayPolicy Policy { get; init; }

    public ulong Seed { get; init; } = 42;

    /// <summary>GPU quota per tenant for <see cref="QueueLayout.PerTenantQuota"/>; computed from demand shares when null.</summary>
    public IReadOnlyDictionary<string, int>? TenantQuotas { get; init; }

    /// <summary>Called now and then with (jobs finished, jobs in the trace).</summary>
    public Action<int, int>? Progress { get; init; }
}

/// <summary>One replayed job: when it arrived, first started and ended (NaN while unfinished).</summary>
public readonly record struct JobOutcome(string Tenant, double Gpus, double Submit, double Duration, double FirstStart, double End, int Evictions)
{
    public bool Finished => !double.IsNaN(End);

    public double Jct => End - Submit;

    /// <summary>Time not running between arrival and end: the wait before the first start plus every wait after an eviction.</summary>
    public double Queueing => Jct - Duration;
}

/// <summary>Everything a replay produced; <see cref="ReplayReport"/> turns it into the JSON and plots.</summary>
public sealed class ReplayRun
{
    public required ReplayOptions Options { get; init; }

    public required JobOutcome[] Jobs { get; init; }

    /// <summary>(time, pending jobs, GPUs in use) after every scheduling cycle.</summary>
    public required List<(double Time, int Pending, double BusyGpus)> Timeline { get; init; }

    public required IReadOnlyDictionary<string, int> TenantQuotas { get; init; }

    /// <summary>Per tenant, GPU-seconds of its quota it did not hold while a job of its was waiting that
    /// fits within the quota it had left: ∫ min(quota − held, GPUs waiting) dt over those times. Near
    /// zero when reclaim hands a tenant its own quota back at once (gangs that need a whole free node
    /// may still wait for one).</summary>
    public required IReadOnlyDictionary<string, double> QuotaShortfallGpuSeconds { get; init; }

    public int Preemptions { get; init; }

    public int Cycles { get; init; }

    /// <summary>Jobs the cluster can never host (more GPUs than it has, or a model it lacks), with the reason.</summary>
    public required List<(string Id, string Reason)> Rejected { get; init; }

    /// <summary>Broken invariants: a start before arrival, more GPUs in use than exist. Must stay empty.</summary>
    public required List<string> Violations { get; init; }

    public double WallSeconds { get; init; }
}

/// <summary>
/// Event-driven replay on a virtual clock through the real <see cref="Scheduler"/>: at each instant where
/// something happens, completions are finished, arrivals submitted, then one scheduling cycle runs and
/// its admissions schedule their completions. Jobs are gang-scheduled and rigid (a job runs its trace
/// duration once started). An evicted job keeps its progress (checkpointed, as Tiresias assumes) and
/// resumes for the time it still has to run. Deterministic: same inputs and seed, same result.
/// </summary>
public static class ReplayEngine
{
    public const string SingleQueue = "default";
    public const string CohortName = "center";

    public static ReplayRun Run(ReplayOptions options)
    {
        var wall = Stopwatch.StartNew();
        var trace = options.Trace;
        var cluster = options.Cluster;
        var policy = options.Policy;
        var jobs = trace.Jobs;
        var tenants = jobs.Select(j => j.Tenant).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var quotas = options.TenantQuotas ?? QuotaShares(trace, cluster.TotalGpus);
        var scheduler = new Scheduler(new SchedulerSetup
        {
            Catalog = cluster.Catalog,
            Nodes = cluster.Nodes,
            Queues = Queues(policy.Layout, tenants, quotas, cluster, trace),
            Cohorts = policy.Layout == QueueLayout.PerTenantQuota ? [new CohortSpec { Name = CohortName }] : [],
            Policy = policy.Core,
            Seed = options.Seed,
            LearnTargetWorkload = false,
            SkipUnchangedWaiting = true,
        });

        var n = jobs.Count;
        var outcomes = new JobOutcome[n];
        var remaining = new double[n];
        var runStart = new double[n];
        var held = new double[n];
        var version = new int[n];
        var index = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var j = jobs[i];
            outcomes[i] = new JobOutcome(j.Tenant, j.Gpus, j.SubmitSeconds, j.DurationSeconds, double.NaN, double.NaN, 0);
            remaining[i] = j.DurationSeconds;
            if (!index.TryAdd(j.Id, i))
            {
                throw new JobTraceException([new JobTraceProblem(trace.Source, 0, "id", $"job id '{j.Id}' appears twice")]);
            }
        }

        var predictor = new DurationPredictor();
        var completions = new Agenda<int>();
        var timeline = new List<(double, int, double)>();
        var rejected = new List<(string, string)>();
        var violations = new List<string>();
        var podSets = new Dictionary<(int Pods, int PerPod, int Milli, string Models), PodSetSpec>();
        var totalGpus = (double)cluster.TotalGpus;
        var busy = 0.0;
        var tenantOf = new int[n];
        var tenantIndex = tenants.Select((name, k) => (name, k)).ToDictionary(x => x.name, x => x.k, StringComparer.Ordinal);
        var tenantQuota = tenants.Select(name => (double)quotas.GetValueOrDefault(name)).ToArray();
        var tenantHeld = new double[tenants.Count];
        var waitingWidths = tenants.Select(_ => new SortedDictionary<double, int>()).ToArray();
        var waitingGpus = new double[tenants.Count];
        var shortfall = new double[tenants.Count];
        var lastTime = n > 0 ? jobs[0].SubmitSeconds : 0;
        for (var i = 0; i < n; i++)
        {
            tenantOf[i] = tenantIndex[jobs[i].Tenant];
        }

        int next = 0, pending = 0, finished = 0, preemptions = 0, cycles = 0;
        while (next < n || completions.Count > 0)
        {
            completions.TryPeekTime(out var tc);
            var t = next < n ? Math.Min(jobs[next].SubmitSeconds, tc) : tc;
            if (double.IsFinite(t))
            {
                AccrueShortfall(t - lastTime);
                lastTime = t;
            }

            while (completions.TryDequeueDue(t, out var done, out var v))
            {
                if (v != version[done])
                {
                    continue;
                }

                scheduler.Finish(jobs[done].Id);
                busy -= held[done];
                tenantHeld[tenantOf[done]] -= held[done];
                outcomes[done] = outcomes[done] with { End = t };
                predictor.Completed(jobs[done].Tenant, jobs[done].Gpus, jobs[done].DurationSeconds);
                finished++;
            }

            while (next < n && jobs[next].SubmitSeconds <= t)
            {
                var job = jobs[next];
                var spec = ToWorkload(job, policy, cluster, predictor, podSets);
                var why = job.Gpus > totalGpus ? $"asks for {job.Gpus} GPUs; the cluster has {totalGpus}" : null;
                var problems = why is null ? scheduler.Submit(spec) : [];
                if (why is not null || problems.Count > 0)
                {
                    rejected.Add((job.Id, why ?? string.Join("; ", problems)));
                    finished++;
                }
                else
                {
                    pending++;
                    Wait(next);
                }

                next++;
            }

            if (pending > 0)
            {
                var now = VirtualClock.At(t);
                var result = scheduler.RunCycle(now);
                cycles++;
                foreach (var admission in result.Admitted)
                {
                    var i = index[admission.WorkloadId];
                    if (t < jobs[i].SubmitSeconds)
                    {
                        violations.Add($"{jobs[i].Id} started at {t} s before it arrived at {jobs[i].SubmitSeconds} s");
                    }

                    held[i] = admission.Pods.Sum(p => p.Devices.Count * p.MilliPerDevice / 1000.0);
                    busy += held[i];
                    tenantHeld[tenantOf[i]] += held[i];
                    Unwait(i);
                    runStart[i] = t;
                    if (double.IsNaN(outcomes[i].FirstStart))
                    {
                        outcomes[i] = outcomes[i] with { FirstStart = t };
                    }

                    completions.Schedule(t + remaining[i], i, ++version[i]);
                    pending--;
                }

                foreach (var eviction in result.Evicted)
                {
                    var i = index[eviction.WorkloadId];
                    remaining[i] = Math.Max(0, remaining[i] - (t - runStart[i]));
                    version[i]++;
                    busy -= held[i];
                    tenantHeld[tenantOf[i]] -= held[i];
                    Wait(i);
                    outcomes[i] = outcomes[i] with { Evictions = outcomes[i].Evictions + 1 };
                    pending++;
                    preemptions++;
                }

                if (busy > totalGpus + 1e-6 || scheduler.Cluster.AllocatedMilli > cluster.TotalGpus * 1000L)
                {
                    violations.Add($"at {t} s {busy} GPUs are in use ({scheduler.Cluster.AllocatedMilli} milli allocated); the cluster has {totalGpus}");
                }

                timeline.Add((t, pending, busy));
                if ((cycles & 1023) == 0)
                {
                    options.Progress?.Invoke(finished, n);
                }
            }
            else if (double.IsPositiveInfinity(t))
            {
                break;
            }
        }

        options.Progress?.Invoke(finished, n);
        return new ReplayRun
        {
            Options = options,
            Jobs = outcomes,
            Timeline = timeline,
            TenantQuotas = quotas,
            QuotaShortfallGpuSeconds = tenants.Select((name, k) => (name, k)).ToDictionary(x => x.name, x => shortfall[x.k], StringComparer.Ordinal),
            Preemptions = preemptions,
            Cycles = cycles,
            Rejected = rejected,
            Violations = violations,
            WallSeconds = wall.Elapsed.TotalSeconds,
        };

        // O(tenants) per event: the narrowest waiting job is the first key of a sorted count by width.
        void AccrueShortfall(double dt)
        {
            if (dt <= 0)
            {
                return;
            }

            for (var k = 0; k < shortfall.Length; k++)
            {
                var room = tenantQuota[k] - tenantHeld[k];
                if (room < 1e-9 || waitingWidths[k].Count == 0 || waitingWidths[k].First().Key > room + 1e-9)
                {
                    continue;
                }

                shortfall[k] += Math.Min(room, waitingGpus[k]) * dt;
            }
        }

        void Wait(int i)
        {
            var k = tenantOf[i];
            waitingWidths[k][jobs[i].Gpus] = waitingWidths[k].GetValueOrDefault(jobs[i].Gpus) + 1;
            waitingGpus[k] += jobs[i].Gpus;
        }

        void Unwait(int i)
        {
            var k = tenantOf[i];
            var left = waitingWidths[k][jobs[i].Gpus] - 1;
            if (left == 0)
            {
                waitingWidths[k].Remove(jobs[i].Gpus);
            }
            else
            {
                waitingWidths[k][jobs[i].Gpus] = left;
            }

            waitingGpus[k] -= jobs[i].Gpus;
        }
    }

    /// <summary>
    /// Whole-GPU quotas proportional to each tenant's offered GPU-time, summing to the cluster's GPUs
    /// (largest remainder). This stands in for the virtual clusters' real quotas, which the trace lacks.
    /// </summary>
    public static IReadOnlyDictionary<string, int> QuotaShares(JobTrace trace, int totalGpus)
    {
        var demand = trace.Jobs.GroupBy(j => j.Tenant, StringComparer.Ordinal)
            .Select(g => (Tenant: g.Key, GpuSeconds: g.Sum(j => j.GpuSeconds)))
            .OrderBy(x => x.Tenant, StringComparer.Ordinal)
            .ToList();
        var total = demand.Sum(d => d.GpuSeconds);
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (total <= 0)
        {
            foreach (var (tenant, _) in demand)
            {
                result[tenant] = totalGpus / Math.Max(1, demand.Count);
            }

            return result;
        }

        var exact = demand.Select(d => (d.Tenant, Share: d.GpuSeconds / total * totalGpus)).ToList();
        foreach (var (tenant, share) in exact)
        {
            result[tenant] = (int)Math.Floor(share);
        }

        var left = totalGpus - result.Values.Sum();
        foreach (var (tenant, _) in exact.OrderByDescending(e => e.Share - Math.Floor(e.Share)).ThenBy(e => e.Tenant, StringComparer.Ordinal).Take(left))
        {
            result[tenant]++;
        }

        return result;
    }

    private static List<QueueSpec> Queues(QueueLayout layout, List<string> tenants, IReadOnlyDictionary<string, int> quotas, ReplayCluster cluster, JobTrace trace)
    {
        if (layout == QueueLayout.Shared)
        {
            return [new QueueSpec { Name = SingleQueue }];
        }

        var totalQuota = Math.Max(1, quotas.Values.Sum());
        var models = cluster.Nodes.SelectMany(n => n.Devices).GroupBy(d => d.Model, StringComparer.OrdinalIgnoreCase)
            .Select(g => (Model: g.Key, Gpus: g.Count())).ToList();
        return [.. tenants.Select(t =>
        {
            var quota = quotas.GetValueOrDefault(t);
            var spec = new QueueSpec { Name = t, Tenant = t, FairWeight = Math.Max(quota, 1) / (double)totalQuota };
            if (layout == QueueLayout.PerTenant)
            {
                return spec;
            }

            // Each model's devices are shared out in the tenant's proportion; the cohort lends whatever is idle.
            var q = new Dictionary<string, ResourceQuota>(StringComparer.Ordinal);
            foreach (var (model, gpus) in models)
            {
                q[ResourceNames.Accelerator(model)] = new ResourceQuota((long)Math.Round(gpus * 1000.0 * quota / totalQuota));
            }

            return spec with { Cohort = CohortName, Quotas = q };
        })];
    }

    private static WorkloadSpec ToWorkload(TraceJob job, ReplayPolicy policy, ReplayCluster cluster, DurationPredictor predictor, Dictionary<(int, int, int, string), PodSetSpec> cache)
    {
        int pods, perPod = 0, milli = 0;
        if (job.Gpus < 1)
        {
            pods = 1;
            milli = (int)Math.Round(job.Gpus * 1000);
        }
        else
        {
            var g = (int)job.Gpus;
            pods = job.Pods > 0 ? job.Pods : PodsFor(g, Math.Max(1, cluster.GpusPerNode));
            perPod = g / pods;
        }

        var models = string.Join('|', job.Models);
        if (!cache.TryGetValue((pods, perPod, milli, models), out var podSet))
        {
            podSet = new PodSetSpec
            {
                Name = "worker",
                Count = pods,
                Accelerator = milli > 0 ? AcceleratorRequest.Fraction(milli, [.. job.Models]) : AcceleratorRequest.Whole(perPod, [.. job.Models]),
            };
            cache.Add((pods, perPod, milli, models), podSet);
        }

        return new WorkloadSpec
        {
            Id = job.Id,
            Tenant = job.Tenant,
            Queue = policy.Layout == QueueLayout.Shared ? SingleQueue : job.Tenant,
            Priority = job.Priority,
            PodSets = [podSet],
            SubmittedAt = VirtualClock.At(job.SubmitSeconds),
            EstimatedDurationSeconds = policy.Estimates switch
            {
                DurationEstimates.Oracle => job.DurationSeconds,
                DurationEstimates.Predicted => predictor.Predict(job.Tenant, job.Gpus),
                _ => null,
            },
        };
    }

    /// <summary>A gang of <paramref name="gpus"/> devices as few equal pods as nodes of
    /// <paramref name="gpusPerNode"/> allow: pods of the largest divisor of the count that fits a node.</summary>
    public static int PodsFor(int gpus, int gpusPerNode)
    {
        for (var perPod = Math.Min(gpus, gpusPerNode); perPod >= 1; perPod--)
        {
            if (gpus % perPod == 0)
            {
                return gpus / perPod;
            }
        }

        return gpus;
    }
}
