using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;

namespace Aicc.Scheduling.Tests.Builders;

public static class SchedulerExtensions
{
    /// <summary>Submits workloads that must be valid.</summary>
    public static Scheduler Submitted(this Scheduler s, params WorkloadSpec[] workloads)
    {
        foreach (var w in workloads)
        {
            var problems = s.Submit(w);
            Assert.True(problems.Count == 0, $"{w.Id}: {string.Join("; ", problems)}");
        }

        return s;
    }

    /// <summary>Runs a cycle <paramref name="second"/> seconds after <see cref="Make.T0"/>.</summary>
    public static CycleResult Cycle(this Scheduler s, int second = 0) => s.RunCycle(Make.T0.AddSeconds(second));

    public static WorkloadPhase PhaseOf(this Scheduler s, string id) => s.Get(id)?.Phase ?? WorkloadPhase.Finished;

    public static IReadOnlyList<PodPlacement> PodsOf(this Scheduler s, string id) => s.Get(id)!.Placements(s.Cluster);

    public static long Usage(this Scheduler s, string queueOrCohort, string resource) =>
        s.Quotas.Usage(queueOrCohort, Aicc.Scheduling.Quotas.ResourceNames.IndexOf(resource, s.Catalog));
}
