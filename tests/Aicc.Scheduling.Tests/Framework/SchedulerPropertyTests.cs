using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using CsCheck;

namespace Aicc.Scheduling.Tests.Framework;

/// <summary>
/// Model-based property test of the whole core: random clusters, queues, cohort trees and policies,
/// random sequences of submit / finish / cancel / node down / node up / cordon / quota change / cycle,
/// and after every cycle a full recomputation of the invariants (see <see cref="SchedulerInvariants"/>)
/// plus liveness: a lone pending single-pod workload that fits free quota and capacity is admitted.
/// CsCheck prints the failing seed; rerun it with <c>Sample(..., seed: "…")</c>.
/// </summary>
public class SchedulerPropertyTests
{
    private const int Scenarios = 2_500;
    private const int OperationsPerScenario = 150;

    private static readonly string[] Models = ["A100", "V100", "T4"];

    [Fact]
    public void RunCycle_RandomOperations_KeepsEveryInvariant()
    {
        long cycles = 0;
        Gen.Int[0, int.MaxValue].Sample(
            seed => Interlocked.Add(ref cycles, RunScenario(seed)),
            iter: Scenarios);

        TestContext.Current.TestOutputHelper?.WriteLine($"checked {cycles:N0} scheduling cycles in {Scenarios:N0} random scenarios");
        Assert.True(cycles >= 100_000, $"only {cycles} cycles were checked; the default run must check at least 100,000");
    }

    /// <summary>Seeds that once broke an invariant, kept so that the bug cannot return unnoticed.</summary>
    [Theory]
    [InlineData(1835584341)] // elastic pods: extra pods checked as if all pods could move to the cheapest model; cohort over SCU quota
    [InlineData(1449013680)] // the same, a queue over its SCU quota in the first cycle
    public void RunCycle_RegressionSeed_KeepsEveryInvariant(int seed) => Assert.True(RunScenario(seed) > 0);

    [Fact]
    public void RunCycle_SameScenarioAndSeed_MakesTheSameDecisions()
    {
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var first = new List<string>();
                var second = new List<string>();
                RunScenario(seed, first);
                RunScenario(seed, second);
                Assert.Equal(first, second);
            },
            iter: 200);
    }

    /// <summary>Runs one random scenario; returns the number of cycles checked.</summary>
    private static int RunScenario(int seed, List<string>? decisions = null)
    {
        var rng = new Random(seed);
        var catalog = ClusterBuilder.DefaultCatalog();
        var nodes = Enumerable.Range(0, rng.Next(1, 6)).Select(i => RandomNode(rng, i)).ToList();
        var cohorts = new List<CohortSpec>();
        if (rng.Next(3) > 0)
        {
            cohorts.Add(new CohortSpec { Name = "root", Quotas = RandomQuotas(rng, 0.3) });
            if (rng.Next(2) == 0)
            {
                cohorts.Add(new CohortSpec { Name = "child", Parent = "root", Quotas = RandomQuotas(rng, 0.4) });
            }
        }

        var queues = Enumerable.Range(0, rng.Next(1, 5)).Select(i => new QueueSpec
        {
            Name = $"q{i}",
            Cohort = cohorts.Count == 0 || rng.Next(4) == 0 ? null : cohorts[rng.Next(cohorts.Count)].Name,
            Strategy = rng.Next(3) == 0 ? QueueingStrategy.StrictFifo : QueueingStrategy.BestEffortFifo,
            Quotas = RandomQuotas(rng, 0.6),
        }).ToList();
        var policyNames = PluginRegistry.Policies.Keys.Order(StringComparer.Ordinal).ToArray();
        var policy = PluginRegistry.Policies[policyNames[rng.Next(policyNames.Length)]];
        if (rng.Next(3) == 0)
        {
            policy = policy with { Preemption = policy.Preemption with { MinRuntimeSeconds = rng.Next(0, 1200) } };
        }

        var scheduler = new Scheduler(new SchedulerSetup
        {
            Catalog = catalog,
            Nodes = nodes,
            Queues = queues,
            Cohorts = cohorts,
            Policy = policy,
            Seed = (ulong)seed,
        });

        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var cycles = 0;
        var next = 0;
        var down = new HashSet<string>();
        for (var op = 0; op < OperationsPerScenario; op++)
        {
            var roll = rng.Next(100);
            if (roll < 38)
            {
                var spec = RandomWorkload(rng, $"w{next++}", queues, now);
                var problems = scheduler.Submit(spec);
                if (problems.Count > 0)
                {
                    Assert.True(scheduler.Get(spec.Id) is null, $"seed {seed}: rejected workload {spec.Id} was stored");
                }
            }
            else if (roll < 48)
            {
                var admitted = scheduler.Workloads.Where(w => w.Phase == WorkloadPhase.Admitted).Select(w => w.Spec.Id).Order(StringComparer.Ordinal).ToList();
                if (admitted.Count > 0)
                {
                    scheduler.Finish(admitted[rng.Next(admitted.Count)]);
                }
            }
            else if (roll < 52)
            {
                var pending = scheduler.Workloads.Where(w => w.Phase == WorkloadPhase.Pending).Select(w => w.Spec.Id).Order(StringComparer.Ordinal).ToList();
                if (pending.Count > 0)
                {
                    scheduler.Finish(pending[rng.Next(pending.Count)]);
                }
            }
            else if (roll < 55)
            {
                var node = nodes[rng.Next(nodes.Count)].Name;
                scheduler.NodeDown(node);
                down.Add(node);
            }
            else if (roll < 58)
            {
                var node = nodes[rng.Next(nodes.Count)].Name;
                scheduler.SetSchedulable(node, true);
                down.Remove(node);
            }
            else if (roll < 60)
            {
                scheduler.SetSchedulable(nodes[rng.Next(nodes.Count)].Name, false);
            }
            else if (roll < 64)
            {
                var target = rng.Next(queues.Count + cohorts.Count);
                var name = target < queues.Count ? queues[target].Name : cohorts[target - queues.Count].Name;
                Assert.Empty(scheduler.SetQuotas(name, RandomQuotas(rng, 0.6)));
            }
            else
            {
                now = now.AddSeconds(rng.Next(0, 900));
                var lone = LoneFittingWorkload(scheduler);
                var before = scheduler.Quotas.ViolationDetails().ToList();
                var result = scheduler.RunCycle(now);
                cycles++;
                var broken = SchedulerInvariants.Check(scheduler, before);
                Assert.True(broken is null, $"seed {seed}, cycle {cycles}: {broken}");
                if (lone is not null)
                {
                    Assert.True(
                        scheduler.Get(lone)?.Phase == WorkloadPhase.Admitted,
                        $"seed {seed}, cycle {cycles}: {lone} fits free quota and capacity with nothing ahead but was not admitted: {scheduler.Get(lone)?.Reason}");
                }

                decisions?.AddRange(result.Admitted.Select(a => $"{now:O} admit {a.WorkloadId} -> {string.Join(",", a.Pods.Select(p => $"{p.Node}[{string.Join("+", p.Devices)}]"))} evicting {string.Join(",", a.Victims)}"));
                decisions?.AddRange(result.Waiting.Select(w => $"{now:O} wait {w.WorkloadId}: {w.Reason}"));
            }
        }

        return cycles;
    }

    /// <summary>
    /// The id of the only pending workload when it is a single pod that some node and model can take
    /// right now within the queue's free quota; otherwise null. Checked by brute force over devices.
    /// </summary>
    private static string? LoneFittingWorkload(Scheduler s)
    {
        var pending = s.Workloads.Where(w => w.Phase == WorkloadPhase.Pending).Take(2).ToList();
        if (pending.Count != 1 || pending[0].Spec.PodSets.Count != 1 || pending[0].Spec.PodSets[0].Count != 1)
        {
            return null;
        }

        var w = pending[0];
        var pod = w.Spec.PodSets[0];
        var q = s.Quotas.QueueIndex(w.Spec.Queue);
        if (s.Quotas.Available(q, ResourceNames.CpuIndex) < pod.CpuMilli || s.Quotas.Available(q, ResourceNames.MemoryIndex) < pod.MemoryMiB)
        {
            return null;
        }

        var c = s.Cluster;
        for (var n = 0; n < c.NodeCount; n++)
        {
            if (!c.IsSchedulable(n) || c.FreeCpu(n) < pod.CpuMilli || c.FreeMemory(n) < pod.MemoryMiB)
            {
                continue;
            }

            if (pod.Accelerator.IsNone)
            {
                return w.Spec.Id;
            }

            for (var m = 0; m < s.Catalog.Count; m++)
            {
                if ((w.ModelMasks[0] & (1UL << m)) == 0)
                {
                    continue;
                }

                var milli = pod.Accelerator.TotalMilli;
                var scu = (milli * s.Catalog[m].ScuMilli + 999) / 1000;
                if (s.Quotas.Available(q, ResourceNames.AcceleratorIndex(m)) < milli || s.Quotas.Available(q, ResourceNames.ScuIndex) < scu)
                {
                    continue;
                }

                var free = 0;
                var roomForShare = false;
                for (var d = c.FirstDevice(n); d < c.FirstDevice(n) + c.DevicesOn(n); d++)
                {
                    if (c.ModelOf(d) != m)
                    {
                        continue;
                    }

                    free += c.DeviceUsed(d) == 0 ? 1 : 0;
                    roomForShare |= c.DeviceUsed(d) + pod.Accelerator.Milli <= 1000;
                }

                if (pod.Accelerator.IsFraction ? roomForShare : free >= pod.Accelerator.Count)
                {
                    return w.Spec.Id;
                }
            }
        }

        return null;
    }

    private static NodeSpec RandomNode(Random rng, int i)
    {
        var gpus = rng.Next(0, 9);
        var model = Models[rng.Next(Models.Length)];
        return new NodeSpec
        {
            Name = $"n{i}",
            CpuMilli = rng.Next(4, 33) * 1000L,
            MemoryMiB = rng.Next(8, 65) * 1024L,
            Devices = NodeSpec.UniformDevices(gpus, model, 0, rng.Next(2) == 0 ? 0 : 2),
            Rack = $"r{rng.Next(2)}",
            Block = "b0",
        };
    }

    private static Dictionary<string, ResourceQuota> RandomQuotas(Random rng, double chance)
    {
        var quotas = new Dictionary<string, ResourceQuota>();
        string[] keys = ["cpu", "memory", "accelerator/A100", "accelerator/V100", "scu"];
        foreach (var key in keys)
        {
            if (rng.NextDouble() >= chance)
            {
                continue;
            }

            long unit = key switch { "cpu" => 1000, "memory" => 1024, _ => 1000 };
            quotas[key] = new ResourceQuota(
                rng.Next(0, 16) * unit,
                rng.Next(3) == 0 ? rng.Next(0, 8) * unit : null,
                rng.Next(3) == 0 ? rng.Next(0, 8) * unit : null);
        }

        return quotas;
    }

    private static WorkloadSpec RandomWorkload(Random rng, string id, List<QueueSpec> queues, DateTimeOffset now)
    {
        var podSets = Enumerable.Range(0, rng.Next(1, 3)).Select(p =>
        {
            var count = rng.Next(1, 4);
            var kind = rng.Next(4);
            var models = rng.Next(3) == 0 ? new[] { Models[rng.Next(Models.Length)] } : [];
            return new PodSetSpec
            {
                Name = $"set{p}",
                Count = count,
                MinCount = rng.Next(4) == 0 ? rng.Next(1, count + 1) : null,
                CpuMilli = rng.Next(0, 9) * 1000L,
                MemoryMiB = rng.Next(0, 17) * 1024L,
                Accelerator = kind switch
                {
                    0 => AcceleratorRequest.None,
                    1 => AcceleratorRequest.Whole(rng.Next(1, 5), models),
                    _ => AcceleratorRequest.Fraction(rng.Next(1, 1000), models) with { MinScuMilli = rng.Next(5) == 0 ? 400 : 0 },
                },
            };
        }).ToList();
        return new WorkloadSpec
        {
            Id = id,
            Queue = queues[rng.Next(queues.Count)].Name,
            Priority = rng.Next(0, 4),
            Preemptible = rng.Next(5) > 0,
            PodSets = podSets,
            SubmittedAt = now,
        };
    }
}
