using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Tests.Builders;

namespace Aicc.Scheduling.Tests.Preemption;

public sealed class ReclaimOnlySkipTests
{
    private static SchedulerBuilder QuotaCluster() => Make.Scheduler()
        .Nodes(Enumerable.Range(0, 4).Select(i => Make.Node($"n{i}").Gpus(8).Build()))
        .Cohort(Make.Cohort("c"))
        .Queue(Make.Queue("a").Gpus("A100", 16).InCohort("c"))
        .Queue(Make.Queue("b").Gpus("A100", 8).InCohort("c"))
        .Queue(Make.Queue("d").Gpus("A100", 8).InCohort("c"))
        .Preemption(new PreemptionSpec { ReclaimWithinCohort = PreemptionScope.Any, WithinQueue = PreemptionScope.Never, ForCapacity = PreemptionScope.Never });

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void RunCycle_ReclaimOnlyPolicyWithSkipUnchangedWaiting_DecidesLikeAFullLook(ulong seed) =>
        CompareWithFullLook(QuotaCluster(), seed, shortestFirst: false);

    /// <summary>Parked queues (borrowing, or holding all their nominal quota) re-enter the walk after an
    /// admission or eviction in queue-sort order; with duration keys and priorities a queue's waiters
    /// interleave with the others', so a misplaced re-entry changes who goes first.</summary>
    [Theory]
    [InlineData(4UL)]
    [InlineData(5UL)]
    [InlineData(6UL)]
    public void RunCycle_ReclaimOnlyShortestJobFirstWithPriorities_DecidesLikeAFullLook(ulong seed) =>
        CompareWithFullLook(QuotaCluster().Policy(PluginRegistry.Policies["bestfit"] with
        {
            QueueSort = "ShortestJobFirst",
            Preemption = new PreemptionSpec { ReclaimWithinCohort = PreemptionScope.Any, WithinQueue = PreemptionScope.Never, ForCapacity = PreemptionScope.Never },
        }), seed, shortestFirst: true);

    private static void CompareWithFullLook(SchedulerBuilder cluster, ulong seed, bool shortestFirst)
    {
        var full = new Scheduler(cluster.Setup() with { SkipUnchangedWaiting = false });
        var skipping = new Scheduler(cluster.Setup() with { SkipUnchangedWaiting = true });
        var random = new Random((int)seed);
        var queues = new[] { "a", "b", "d" };
        var running = new List<string>();
        var next = 0;
        var skipped = 0;
        for (var second = 0; second < 400; second++)
        {
            for (var k = random.Next(3); k > 0; k--)
            {
                var w = Make.Workload($"w{next++}", queues[random.Next(queues.Length)]).Pods(1, random.Next(4) switch { 0 => 8, 1 => 2, _ => 1 }).AtSecond(second);
                if (shortestFirst)
                {
                    w = w.Priority(random.Next(4) == 0 ? 1 : 0);
                }

                var spec = shortestFirst ? w.Build() with { EstimatedDurationSeconds = random.Next(1, 50) } : w.Build();
                full.Submitted(spec);
                skipping.Submitted(spec);
            }

            if (running.Count > 0 && random.Next(2) == 0)
            {
                var done = running[random.Next(running.Count)];
                Assert.True(full.Finish(done), $"seed {seed}: {done}");
                Assert.True(skipping.Finish(done), $"seed {seed}: {done}");
                running.Remove(done);
            }

            var a = full.Cycle(second);
            var b = skipping.Cycle(second);
            Assert.Equal(a.Admitted.Select(x => (x.WorkloadId, string.Join(',', x.Victims))), b.Admitted.Select(x => (x.WorkloadId, string.Join(',', x.Victims))));
            Assert.Equal(a.Evicted.Select(x => x.WorkloadId), b.Evicted.Select(x => x.WorkloadId));
            skipped += a.Considered - b.Considered;
            running.AddRange(a.Admitted.Select(x => x.WorkloadId));
            running.RemoveAll(id => a.Evicted.Any(e => e.WorkloadId == id));
        }

        Assert.True(skipped > 0, $"seed {seed}: the skip never applied, so the test compares nothing");
        Assert.Empty(skipping.Quotas.Violations());
        foreach (var w in full.Workloads)
        {
            Assert.True(w.Phase == skipping.PhaseOf(w.Spec.Id), $"seed {seed}: {w.Spec.Id}");
        }
    }
}
