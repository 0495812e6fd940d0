using Aicc.Scheduling.Framework;
using Aicc.Scheduling.Model;
using Aicc.Scheduling.Quotas;
using Aicc.Scheduling.Tests.Quotas;

namespace Aicc.Scheduling.Tests.Framework;

/// <summary>
/// Checks a scheduler's whole state against invariants recomputed from first principles: what each
/// admitted workload's placements hold (devices, CPU, memory, quota) and the reference
/// <see cref="QuotaModel"/>. Used after every cycle of the property tests.
/// </summary>
internal sealed class WorldChecker
{
    private readonly Scheduler _s;
    private readonly AcceleratorCatalog _catalog;

    public WorldChecker(Scheduler scheduler, QuotaModel model, double minRuntimeSeconds)
    {
        _s = scheduler;
        _catalog = scheduler.Catalog;
        Model = model;
        MinRuntimeSeconds = minRuntimeSeconds;
    }

    public QuotaModel Model { get; }

    public double MinRuntimeSeconds { get; }

    /// <summary>What holds before a cycle, to judge the cycle by.</summary>
    public sealed record Before(
        QuotaModel.Evaluation[] Quota,
        Dictionary<string, DateTimeOffset> AdmittedAt,
        string? MustAdmit);

    /// <summary>Everything the admitted workloads hold, recomputed from their placements.</summary>
    public sealed class Holdings(int nodes, int devices)
    {
        public readonly long[] Cpu = new long[nodes];
        public readonly long[] Memory = new long[nodes];
        public readonly int[] DeviceMilli = new int[devices];
        public readonly int[] WholeHolders = new int[devices];
        public readonly int[] Sharers = new int[devices];
        public readonly Dictionary<string, long>[] QueueUsage = new Dictionary<string, long>[ResourceNames.Count];
    }

    public Holdings Hold()
    {
        var c = _s.Cluster;
        var h = new Holdings(c.NodeCount, c.TotalDevices);
        for (var r = 0; r < h.QueueUsage.Length; r++)
        {
            h.QueueUsage[r] = new Dictionary<string, long>(StringComparer.Ordinal);
        }

        foreach (var w in _s.Workloads.Where(w => w.Phase == WorkloadPhase.Admitted))
        {
            foreach (var pod in w.Placements(c))
            {
                var podSet = w.Spec.PodSets.Single(p => p.Name == pod.PodSet);
                Assert.True(c.TryGetNode(pod.Node, out var node), $"{w.Spec.Id} placed on unknown node {pod.Node}");
                h.Cpu[node] += podSet.CpuMilli;
                h.Memory[node] += podSet.MemoryMiB;
                Add(h, w.Spec.Queue, ResourceNames.CpuIndex, podSet.CpuMilli);
                Add(h, w.Spec.Queue, ResourceNames.MemoryIndex, podSet.MemoryMiB);
                foreach (var local in pod.Devices)
                {
                    var d = c.FirstDevice(node) + local;
                    h.DeviceMilli[d] += pod.MilliPerDevice;
                    if (pod.MilliPerDevice == 1000)
                    {
                        h.WholeHolders[d]++;
                    }
                    else
                    {
                        h.Sharers[d]++;
                    }

                    _catalog.TryGet(c.NodeSpecAt(node).Devices[local].Model, out var type);
                    Add(h, w.Spec.Queue, ResourceNames.AcceleratorIndex(type.Id), pod.MilliPerDevice);
                    Add(h, w.Spec.Queue, ResourceNames.ScuIndex, (pod.MilliPerDevice * type.ScuMilli + 999) / 1000);
                }
            }
        }

        return h;
    }

    private static void Add(Holdings h, string queue, int r, long amount) =>
        h.QueueUsage[r][queue] = h.QueueUsage[r].GetValueOrDefault(queue) + amount;

    public Before Capture()
    {
        var h = Hold();
        var quota = new QuotaModel.Evaluation[Model.Resources];
        for (var r = 0; r < quota.Length; r++)
        {
            quota[r] = Model.Evaluate(r, h.QueueUsage[r]);
        }

        var admitted = _s.Workloads.Where(w => w.Phase == WorkloadPhase.Admitted).ToDictionary(w => w.Spec.Id, w => w.AdmittedAt!.Value);
        var pending = _s.Workloads.Where(w => w.Phase == WorkloadPhase.Pending).ToList();
        var mustAdmit = pending.Count == 1 && FitsFreeQuotaAndCapacity(pending[0].Spec, h) ? pending[0].Spec.Id : null;
        return new Before(quota, admitted, mustAdmit);
    }

    /// <summary>Model mask of a pod set: its allowed models (all when none) with at least its minimum SCU.</summary>
    private ulong MaskOf(PodSetSpec p)
    {
        var mask = 0UL;
        for (var m = 0; m < _catalog.Count; m++)
        {
            var allowed = p.Accelerator.AllowedModels.Count == 0 || p.Accelerator.AllowedModels.Contains(_catalog[m].Name, StringComparer.OrdinalIgnoreCase);
            if (allowed && _catalog[m].ScuMilli >= p.Accelerator.MinScuMilli)
            {
                mask |= 1UL << m;
            }
        }

        return mask;
    }

    /// <summary>
    /// A sufficient condition for admission: every pod fits the queue's free quota (each model that would
    /// be charged, SCU at the dearest model left) and one schedulable node has room for all required pods
    /// on entirely free devices of one model every pod set allows.
    /// </summary>
    public bool FitsFreeQuotaAndCapacity(WorkloadSpec spec, Holdings h)
    {
        var q = spec.Queue;
        var sets = spec.PodSets;
        if (!Model.FitsAdding(q, ResourceNames.CpuIndex, sets.Sum(p => p.Count * p.CpuMilli), h.QueueUsage[ResourceNames.CpuIndex]) ||
            !Model.FitsAdding(q, ResourceNames.MemoryIndex, sets.Sum(p => p.Count * p.MemoryMiB), h.QueueUsage[ResourceNames.MemoryIndex]))
        {
            return false;
        }

        var masks = sets.Select(MaskOf).ToArray();
        var usable = 0UL;
        for (var m = 0; m < _catalog.Count; m++)
        {
            long demand = 0;
            for (var i = 0; i < sets.Count; i++)
            {
                if (!sets[i].Accelerator.IsNone && (masks[i] & (1UL << m)) != 0)
                {
                    demand += sets[i].Count * sets[i].Accelerator.TotalMilli;
                }
            }

            if (demand > 0 && Model.FitsAdding(q, ResourceNames.AcceleratorIndex(m), demand, h.QueueUsage[ResourceNames.AcceleratorIndex(m)]))
            {
                usable |= 1UL << m;
            }
        }

        long scu = 0;
        var common = usable;
        for (var i = 0; i < sets.Count; i++)
        {
            var a = sets[i].Accelerator;
            if (a.IsNone)
            {
                continue;
            }

            masks[i] &= usable;
            common &= masks[i];
            var dearest = Enumerable.Range(0, _catalog.Count).Where(m => (masks[i] & (1UL << m)) != 0).Select(m => _catalog[m].ScuMilli).DefaultIfEmpty(0).Max();
            scu += sets[i].Count * (a.IsFraction ? (a.Milli * dearest + 999) / 1000 : a.Count * dearest);
        }

        var wantsDevices = sets.Any(p => !p.Accelerator.IsNone);
        if ((wantsDevices && common == 0) || !Model.FitsAdding(q, ResourceNames.ScuIndex, scu, h.QueueUsage[ResourceNames.ScuIndex]))
        {
            return false;
        }

        var c = _s.Cluster;
        var cpu = sets.Sum(p => p.RequiredCount * p.CpuMilli);
        var memory = sets.Sum(p => p.RequiredCount * p.MemoryMiB);
        var devices = sets.Sum(p => p.Accelerator.IsNone ? 0 : p.RequiredCount * (p.Accelerator.IsFraction ? 1 : p.Accelerator.Count));
        var deviceMemory = sets.Max(p => p.Accelerator.MemoryMiB);
        for (var n = 0; n < c.NodeCount; n++)
        {
            var nodeSpec = c.NodeSpecAt(n);
            if (!c.IsSchedulable(n) || nodeSpec.CpuMilli - h.Cpu[n] < cpu || nodeSpec.MemoryMiB - h.Memory[n] < memory)
            {
                continue;
            }

            if (!wantsDevices)
            {
                return true;
            }

            for (var m = 0; m < _catalog.Count; m++)
            {
                if ((common & (1UL << m)) == 0)
                {
                    continue;
                }

                var free = 0;
                for (var local = 0; local < nodeSpec.Devices.Count; local++)
                {
                    var device = nodeSpec.Devices[local];
                    var memoryOf = device.MemoryMiB > 0 ? device.MemoryMiB : _catalog[m].MemoryMiB;
                    if (string.Equals(device.Model, _catalog[m].Name, StringComparison.OrdinalIgnoreCase) &&
                        h.DeviceMilli[c.FirstDevice(n) + local] == 0 && memoryOf >= deviceMemory)
                    {
                        free++;
                    }
                }

                if (free >= devices)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Every invariant after a cycle; throws with all broken ones.</summary>
    public void AfterCycle(Before before, CycleResult result, DateTimeOffset now, string where)
    {
        var problems = new List<string>();
        var c = _s.Cluster;
        var h = Hold();

        // Devices, CPU and memory: never over capacity, and the cluster's books equal the placements.
        for (var n = 0; n < c.NodeCount; n++)
        {
            var spec = c.NodeSpecAt(n);
            if (h.Cpu[n] > spec.CpuMilli || h.Memory[n] > spec.MemoryMiB)
            {
                problems.Add($"node {spec.Name} over capacity: cpu {h.Cpu[n]}/{spec.CpuMilli}, memory {h.Memory[n]}/{spec.MemoryMiB}");
            }

            if (c.FreeCpu(n) != spec.CpuMilli - h.Cpu[n] || c.FreeMemory(n) != spec.MemoryMiB - h.Memory[n])
            {
                problems.Add($"node {spec.Name}: cluster books free cpu {c.FreeCpu(n)}, memory {c.FreeMemory(n)}; placements say {spec.CpuMilli - h.Cpu[n]}, {spec.MemoryMiB - h.Memory[n]}");
            }
        }

        for (var d = 0; d < c.TotalDevices; d++)
        {
            if (h.DeviceMilli[d] > 1000)
            {
                problems.Add($"device {d} shared {h.DeviceMilli[d]}/1000");
            }

            if (h.WholeHolders[d] > 1 || (h.WholeHolders[d] == 1 && h.Sharers[d] > 0))
            {
                problems.Add($"device {d} held whole by {h.WholeHolders[d]} pods with {h.Sharers[d]} sharers");
            }

            if (c.DeviceUsed(d) != h.DeviceMilli[d] || c.Sharers(d) != h.Sharers[d] || (c.WholeOwner(d) >= 0) != (h.WholeHolders[d] == 1))
            {
                problems.Add($"device {d}: cluster books {c.DeviceUsed(d)} milli, {c.Sharers(d)} sharers, owner {c.WholeOwner(d)}; placements say {h.DeviceMilli[d]}, {h.Sharers[d]}, {h.WholeHolders[d]} whole");
            }
        }

        // Gangs: all required pods or none; each pod holds what its pod set asks.
        foreach (var w in _s.Workloads)
        {
            var placements = w.Placements(c);
            if (w.Phase == WorkloadPhase.Pending)
            {
                if (placements.Count > 0)
                {
                    problems.Add($"pending {w.Spec.Id} holds {placements.Count} pods");
                }

                if (string.IsNullOrWhiteSpace(w.Reason))
                {
                    problems.Add($"pending {w.Spec.Id} has no reason");
                }

                continue;
            }

            if (w.Phase != WorkloadPhase.Admitted)
            {
                problems.Add($"{w.Spec.Id} listed in phase {w.Phase}");
                continue;
            }

            foreach (var p in w.Spec.PodSets)
            {
                var pods = placements.Where(x => x.PodSet == p.Name).ToList();
                if (pods.Count < p.RequiredCount || pods.Count > p.Count || pods.Select(x => x.Index).Distinct().Count() != pods.Count || pods.Any(x => x.Index < 0 || x.Index >= p.Count))
                {
                    problems.Add($"admitted {w.Spec.Id} pod set {p.Name}: {pods.Count} pods (indices {string.Join(",", pods.Select(x => x.Index))}), needs {p.RequiredCount}..{p.Count}");
                }

                var mask = MaskOf(p);
                foreach (var pod in pods)
                {
                    c.TryGetNode(pod.Node, out var node);
                    var a = p.Accelerator;
                    var shapeOk = a.IsNone ? pod.Devices.Count == 0
                        : a.IsFraction ? pod.Devices.Count == 1 && pod.MilliPerDevice == a.Milli
                        : pod.Devices.Count == a.Count && pod.MilliPerDevice == 1000 && pod.Devices.Distinct().Count() == a.Count;
                    var modelsOk = pod.Devices.All(local => _catalog.TryGet(c.NodeSpecAt(node).Devices[local].Model, out var t) && (mask & (1UL << t.Id)) != 0);
                    if (!shapeOk || !modelsOk)
                    {
                        problems.Add($"admitted {w.Spec.Id} pod {p.Name}/{pod.Index} holds devices [{string.Join(",", pod.Devices)}] at {pod.MilliPerDevice} on {pod.Node} for request {a}");
                    }
                }
            }
        }

        // Quota: the tree's usage equals the model's, and every limit holds unless a quota decrease broke
        // it before this cycle and the cycle did not add to it.
        var modelViolations = 0;
        for (var r = 0; r < Model.Resources; r++)
        {
            var e = Model.Evaluate(r, h.QueueUsage[r]);
            var b = before.Quota[r];
            for (var i = 0; i < e.Names.Length; i++)
            {
                var treeUsage = _s.Quotas.Usage(e.Names[i], r);
                if (treeUsage != e.Usage[i])
                {
                    problems.Add($"{e.Names[i]} {ResourceNames.NameOf(r, _catalog)}: tree usage {treeUsage}, recomputed from admitted workloads {e.Usage[i]}");
                }

                if (e.Over(i))
                {
                    modelViolations++;
                    if (!(b.Over(i) && e.Usage[i] <= b.Usage[i]))
                    {
                        problems.Add($"{e.Names[i]} {ResourceNames.NameOf(r, _catalog)}: usage {e.Usage[i]} over limit {e.Limit[i]} (before the cycle {b.Usage[i]} of {b.Limit[i]})");
                    }
                }

                // Lending: what a node keeps guaranteed (subtree quota minus lending limit) and does not use
                // is never used by anyone else in its tree.
                if (e.Constrained[i] && e.IsRoot[i] && e.LendingProblem(i, b) is { } lending)
                {
                    problems.Add($"{ResourceNames.NameOf(r, _catalog)}: {lending}");
                }
            }
        }

        var treeViolations = _s.Quotas.Violations();
        if (treeViolations.Count != modelViolations)
        {
            problems.Add($"tree reports {treeViolations.Count} violations ({string.Join("; ", treeViolations)}), the model {modelViolations}");
        }

        // The cycle's decisions: evictions only of preemptible workloads past their minimum runtime.
        foreach (var eviction in result.Evicted)
        {
            var victim = _s.Get(eviction.WorkloadId);
            if (victim is null || victim.Phase != WorkloadPhase.Pending || !victim.Spec.Preemptible || !eviction.Reason.Contains("preempted by", StringComparison.Ordinal))
            {
                problems.Add($"eviction of {eviction.WorkloadId} ({eviction.Reason}) left it {victim?.Phase}, preemptible {victim?.Spec.Preemptible}");
            }

            var admittedAt = before.AdmittedAt.TryGetValue(eviction.WorkloadId, out var at) ? at : now;
            if ((now - admittedAt).TotalSeconds < MinRuntimeSeconds)
            {
                problems.Add($"{eviction.WorkloadId} evicted after {(now - admittedAt).TotalSeconds}s, minimum runtime {MinRuntimeSeconds}s");
            }
        }

        foreach (var admission in result.Admitted)
        {
            foreach (var pod in admission.Pods)
            {
                c.TryGetNode(pod.Node, out var node);
                if (!c.IsSchedulable(node))
                {
                    problems.Add($"{admission.WorkloadId} admitted onto unschedulable node {pod.Node}");
                }
            }

            if (admission.Victims.Any(v => result.Evicted.All(e => e.WorkloadId != v)))
            {
                problems.Add($"{admission.WorkloadId} names victims {string.Join(",", admission.Victims)} that were not evicted");
            }
        }

        // Liveness: the only pending workload, fitting free quota and capacity, is admitted.
        if (before.MustAdmit is { } must && result.Admitted.All(a => a.WorkloadId != must))
        {
            problems.Add($"{must} was the only pending workload and fit free quota and capacity, but was not admitted: {_s.Get(must)?.Reason}");
        }

        if (problems.Count > 0)
        {
            Assert.Fail($"{where}: {string.Join(Environment.NewLine, problems)}");
        }
    }
}
