using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Tests.Framework;

/// <summary>
/// Recomputes the scheduler's state from its admitted workloads and checks every safety invariant
/// that money or safety depends on. Returns the first broken invariant, or null.
/// </summary>
internal static class SchedulerInvariants
{
    public static string? Check(Scheduler s, IReadOnlyCollection<(int Entry, int Resource, long Usage, long Limit)>? violationsBefore = null)
    {
        var c = s.Cluster;
        var used = new int[c.TotalDevices];
        var owners = new int[c.TotalDevices];
        var sharers = new int[c.TotalDevices];
        Array.Fill(owners, -1);
        var cpu = new long[c.NodeCount];
        var memory = new long[c.NodeCount];
        var usage = new Dictionary<string, long[]>();
        foreach (var w in s.Workloads)
        {
            if (w.Phase == WorkloadPhase.Pending)
            {
                if (w.Allocations.Count != 0 || w.Charged.Any(x => x != 0))
                {
                    return $"pending workload {w.Spec.Id} holds resources";
                }

                continue;
            }

            for (var p = 0; p < w.Spec.PodSets.Count; p++)
            {
                var have = w.Allocations.Count(a => a.PodSet == p);
                if (have < w.Spec.PodSets[p].RequiredCount || have > w.Spec.PodSets[p].Count)
                {
                    return $"gang broken: {w.Spec.Id} pod set {p} has {have} pods, required {w.Spec.PodSets[p].RequiredCount}..{w.Spec.PodSets[p].Count}";
                }
            }

            var charged = usage.TryGetValue(w.Spec.Queue, out var u) ? u : usage[w.Spec.Queue] = new long[ResourceNames.Count];
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                charged[r] += w.Charged[r];
            }

            foreach (var (_, _, a) in w.Allocations)
            {
                cpu[a.Node] += a.CpuMilli;
                memory[a.Node] += a.MemoryMiB;
                foreach (var d in a.Devices)
                {
                    used[d] += a.MilliPerDevice;
                    if (a.Whole)
                    {
                        if (owners[d] >= 0)
                        {
                            return $"device {d} has two whole owners";
                        }

                        owners[d] = w.Handle;
                    }
                    else
                    {
                        sharers[d]++;
                    }
                }
            }
        }

        for (var d = 0; d < c.TotalDevices; d++)
        {
            if (used[d] > 1000)
            {
                return $"device {d} share {used[d]} > 1000";
            }

            if (owners[d] >= 0 && sharers[d] > 0)
            {
                return $"device {d} is held whole and shared";
            }

            if (used[d] != c.DeviceUsed(d) || owners[d] != c.WholeOwner(d) || sharers[d] != c.Sharers(d))
            {
                return $"device {d} state differs from its workloads";
            }
        }

        for (var n = 0; n < c.NodeCount; n++)
        {
            if (cpu[n] > c.CpuCapacity[n] || memory[n] > c.MemoryCapacity[n])
            {
                return $"node {c.NodeName(n)} over capacity";
            }

            if (cpu[n] != c.CpuUsed[n] || memory[n] != c.MemoryUsed[n])
            {
                return $"node {c.NodeName(n)} usage differs from its workloads";
            }
        }

        foreach (var queue in s.Quotas.QueueNames)
        {
            var expected = usage.GetValueOrDefault(queue) ?? new long[ResourceNames.Count];
            for (var r = 0; r < ResourceNames.Count; r++)
            {
                if (s.Quotas.Usage(queue, r) != expected[r])
                {
                    return $"queue {queue} resource {r}: tree usage {s.Quotas.Usage(queue, r)} != admitted {expected[r]}";
                }
            }
        }

        foreach (var v in s.Quotas.ViolationDetails())
        {
            // A limit may stay exceeded after an operator lowered it, but a cycle must never add to it.
            var before = violationsBefore?.Where(b => b.Entry == v.Entry && b.Resource == v.Resource).Select(b => (long?)b.Usage).FirstOrDefault();
            if (before is null || v.Usage > before)
            {
                return $"quota limit exceeded: {string.Join("; ", s.Quotas.Violations())}";
            }
        }

        return null;
    }
}
