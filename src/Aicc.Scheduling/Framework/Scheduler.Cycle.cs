using System.Diagnostics;
using Aicc.Scheduling.Plugins.TopologyPacking;
using Aicc.Scheduling.Queueing;
using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Framework;

public sealed partial class Scheduler
{
    /// <summary>Outcome of trying one workload, before preemption.</summary>
    private enum Attempt
    {
        Admitted,
        QuotaBlocked,
        CapacityBlocked,
    }

    /// <summary>
    /// Runs one scheduling cycle at <paramref name="now"/>: every pending workload is considered once, in
    /// queue-sort order, and admitted, left waiting with a reason, or admitted after evicting others.
    /// </summary>
    public CycleResult RunCycle(DateTimeOffset now)
    {
        var result = new CycleResult();
        var start = Stopwatch.GetTimestamp();
        UpdateFairUsage(now);

        // 1. Sort: one head per queue in a heap keyed by the queue sort; the next of a queue enters when its head leaves.
        var fair = string.Equals(Policy.QueueSort, "FairShare", StringComparison.OrdinalIgnoreCase);
        var heads = new PriorityQueue<(int Queue, WorkloadState Workload), HeadKey>();
        var cursors = new IEnumerator<WorkloadState>[_pending.Length];
        var snapshot = new List<WorkloadState>[_pending.Length];
        for (var q = 0; q < _pending.Length; q++)
        {
            if (_pending[q].Count == 0)
            {
                continue;
            }

            snapshot[q] = [.. _pending[q]];
            cursors[q] = snapshot[q].GetEnumerator();
            Advance(q);
        }

        result.SortTime += Since(start);
        var failedShapes = new HashSet<PodShape>();
        while (heads.TryDequeue(out var head, out _))
        {
            var (queue, workload) = head;
            result.Considered++;
            var outcome = TryAdmit(workload, now, result, failedShapes, out var reason);
            if (outcome != Attempt.Admitted)
            {
                var t = Stopwatch.GetTimestamp();
                var preempted = TryPreempt(workload, now, outcome, result);
                result.PreemptTime += Since(t);
                if (preempted)
                {
                    failedShapes.Clear();
                    Advance(queue);
                    continue;
                }

                workload.Reason = reason;
                result.Waiting.Add((workload.Spec.Id, reason));
                if (Quotas.QueueAt(queue).Strategy == QueueingStrategy.StrictFifo)
                {
                    BlockBehind(queue, workload, result);
                    continue;
                }
            }

            Advance(queue);
        }

        return result;

        void Advance(int q)
        {
            var cursor = cursors[q];
            if (cursor is not null && cursor.MoveNext())
            {
                var w = cursor.Current;
                heads.Enqueue((q, w), new HeadKey(fair ? FairShare(q) : 0, -w.Spec.Priority, w.Spec.SubmittedAt, w.Sequence));
            }
        }

        void BlockBehind(int q, WorkloadState blocker, CycleResult r)
        {
            var cursor = cursors[q];
            while (cursor.MoveNext())
            {
                var w = cursor.Current;
                w.Reason = $"waiting: behind {blocker.Spec.Id} in StrictFIFO queue {Quotas.NameAt(q)}";
                r.Waiting.Add((w.Spec.Id, w.Reason));
            }
        }
    }

    private readonly record struct HeadKey(double Share, int NegativePriority, DateTimeOffset SubmittedAt, long Sequence) : IComparable<HeadKey>
    {
        public int CompareTo(HeadKey other)
        {
            var c = Share.CompareTo(other.Share);
            if (c != 0)
            {
                return c;
            }

            c = NegativePriority.CompareTo(other.NegativePriority);
            if (c != 0)
            {
                return c;
            }

            c = SubmittedAt.CompareTo(other.SubmittedAt);
            return c != 0 ? c : Sequence.CompareTo(other.Sequence);
        }
    }

    /// <summary>
    /// Quota, then placement of every pod, then the quota charge; on failure nothing is left allocated.
    /// </summary>
    private Attempt TryAdmit(WorkloadState workload, DateTimeOffset now, CycleResult result, HashSet<PodShape> failedShapes, out string reason)
    {
        var t = Stopwatch.GetTimestamp();
        var spec = workload.Spec;
        var counts = new int[spec.PodSets.Count];
        var masks = new ulong[spec.PodSets.Count];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = spec.PodSets[i].Count;
        }

        // 2. Admit: full counts first; an elastic workload falls back to its minimum counts.
        var quotaReason = QuotaFit(workload, counts, masks);
        if (quotaReason is not null && spec.PodSets.Any(p => p.RequiredCount < p.Count))
        {
            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] = spec.PodSets[i].RequiredCount;
            }

            quotaReason = QuotaFit(workload, counts, masks);
        }

        result.AdmitTime += Since(t);
        if (quotaReason is not null)
        {
            reason = quotaReason;
            return Attempt.QuotaBlocked;
        }

        // 3–4. Filter, score and reserve all required pods; then optional pods while capacity and quota allow.
        t = Stopwatch.GetTimestamp();
        var placed = Reserve(workload, counts, masks, failedShapes, out reason);
        if (placed)
        {
            Charge(workload);
            AddOptionalPods(workload, counts, masks);
            _pending[workload.QueueIndex].Remove(workload);
            workload.Phase = WorkloadPhase.Admitted;
            workload.AdmittedAt = now;
            workload.Reason = null;
            _admitted[workload.QueueIndex].Add(workload);
            NoteFairUsage(workload);
            result.PodsPlaced += workload.Allocations.Count;
            result.Admitted.Add(new Admission(spec.Id, workload.Placements(Cluster), []));
        }

        result.PlaceTime += Since(t);
        return placed ? Attempt.Admitted : Attempt.CapacityBlocked;
    }

    /// <summary>
    /// Whether <paramref name="counts"/> pods fit the queue's quota, and which models each pod set may use.
    /// Accelerator demand is charged conservatively: model m must hold every pod set that allows m, and
    /// SCU the most expensive allowed model; what is finally charged (the real placement) is never more.
    /// Returns null when it fits, else the reason.
    /// </summary>
    private string? QuotaFit(WorkloadState workload, int[] counts, ulong[] masks)
    {
        var spec = workload.Spec;
        var q = workload.QueueIndex;
        long cpu = 0, memory = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            cpu = checked(cpu + counts[i] * spec.PodSets[i].CpuMilli);
            memory = checked(memory + counts[i] * spec.PodSets[i].MemoryMiB);
            masks[i] = workload.ModelMasks[i];
        }

        var cpuShort = Short(q, ResourceNames.CpuIndex, cpu);
        if (cpuShort is not null)
        {
            return cpuShort;
        }

        var memoryShort = Short(q, ResourceNames.MemoryIndex, memory);
        if (memoryShort is not null)
        {
            return memoryShort;
        }

        string? firstShort = null;
        for (var m = 0; m < Catalog.Count; m++)
        {
            long demand = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                if ((masks[i] & (1UL << m)) != 0)
                {
                    demand = checked(demand + counts[i] * spec.PodSets[i].Accelerator.TotalMilli);
                }
            }

            var why = demand > 0 ? Short(q, ResourceNames.AcceleratorIndex(m), demand) : null;
            if (why is not null)
            {
                firstShort ??= why;
                for (var i = 0; i < masks.Length; i++)
                {
                    masks[i] &= ~(1UL << m);
                }
            }
        }

        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0 && !spec.PodSets[i].Accelerator.IsNone && masks[i] == 0)
            {
                return firstShort ?? $"waiting: queue {Quotas.NameAt(q)} has no quota for any model pod set '{spec.PodSets[i].Name}' allows";
            }
        }

        // SCU: drop the most expensive models until the worst case fits.
        while (true)
        {
            long worst = 0;
            var priciest = -1;
            for (var i = 0; i < counts.Length; i++)
            {
                var request = spec.PodSets[i].Accelerator;
                if (counts[i] == 0 || request.IsNone)
                {
                    continue;
                }

                var top = -1;
                for (var m = 0; m < Catalog.Count; m++)
                {
                    if ((masks[i] & (1UL << m)) != 0 && (top < 0 || Catalog[m].ScuMilli > Catalog[top].ScuMilli))
                    {
                        top = m;
                    }
                }

                // Charged per device and rounded up per device (see Charge), so sum per device too.
                var devices = checked(counts[i] * (request.IsFraction ? 1L : request.Count));
                worst = checked(worst + devices * ScuOf(top, request.IsFraction ? request.Milli : 1000));
                if (priciest < 0 || Catalog[top].ScuMilli > Catalog[priciest].ScuMilli)
                {
                    priciest = top;
                }
            }

            var scuShort = Short(q, ResourceNames.ScuIndex, worst);
            if (scuShort is null)
            {
                return null;
            }

            var cheaper = false;
            for (var i = 0; i < masks.Length; i++)
            {
                var without = masks[i] & ~(1UL << priciest);
                if (without != 0 && without != masks[i])
                {
                    masks[i] = without;
                    cheaper = true;
                }
            }

            if (!cheaper)
            {
                return scuShort;
            }
        }
    }

    /// <summary>Null when the queue can take <paramref name="demand"/> more of a resource, else the reason.</summary>
    private string? Short(int queue, int resource, long demand)
    {
        if (demand == 0)
        {
            return null;
        }

        var available = Quotas.Available(queue, resource);
        if (available >= demand)
        {
            return null;
        }

        var name = ResourceNames.NameOf(resource, Catalog);
        var nominal = Quotas.NominalAt(queue, resource);
        var usage = Quotas.UsageAt(queue, resource);
        var parent = Quotas.ParentOf(queue);
        var lend = parent < 0 ? "it has no cohort to borrow from" : $"cohort {Quotas.NameAt(parent)} has {Units.Format(resource, Math.Max(0, available - Math.Max(0, nominal - usage)))} to lend";
        return $"waiting: queue {Quotas.NameAt(queue)} needs {Units.Format(resource, demand)} of {name} but has {Units.Format(resource, available)} available (nominal {Units.Format(resource, nominal)}, in use {Units.Format(resource, usage)}); {lend}";
    }

    /// <summary>Places the required pods of every pod set, all or none.</summary>
    private bool Reserve(WorkloadState workload, int[] counts, ulong[] masks, HashSet<PodShape> failedShapes, out string reason)
    {
        var spec = workload.Spec;
        var required = new int[counts.Length];
        var totalRequired = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            required[i] = Math.Min(counts[i], spec.PodSets[i].RequiredCount);
            totalRequired += required[i];
        }

        int[]? plan = null;
        if (Placer.UsesTopology && totalRequired > 1)
        {
            var largest = Enumerable.Range(0, counts.Length).MaxBy(i => (long)required[i] * Math.Max(1, spec.PodSets[i].Accelerator.TotalMilli));
            plan = RackPlan.Choose(Cluster, new PodRequest(spec.PodSets[largest], masks[largest]), totalRequired);
        }

        for (var i = 0; i < counts.Length; i++)
        {
            var request = new PodRequest(spec.PodSets[i], masks[i]);
            for (var k = 0; k < required[i]; k++)
            {
                var first = workload.Allocations.Count == 0;
                if (first && failedShapes.Contains(request.Shape))
                {
                    reason = NoFit(spec, i, k, required[i], request);
                    return false;
                }

                if (!PlaceOne(workload, i, k, request, plan))
                {
                    if (first)
                    {
                        failedShapes.Add(request.Shape);
                    }

                    Rollback(workload);
                    reason = NoFit(spec, i, k, required[i], request);
                    return false;
                }
            }
        }

        reason = "";
        return true;
    }

    private bool PlaceOne(WorkloadState workload, int podSet, int index, in PodRequest request, int[]? plan)
    {
        var node = plan is not null ? Placer.FindAmong(plan, request) : -1;
        if (node < 0)
        {
            node = Placer.FindNode(request);
        }

        if (node < 0 || !Placer.TryBind(node, request, workload.Handle, out var allocation))
        {
            return false;
        }

        workload.Allocations.Add((podSet, index, allocation));
        return true;
    }

    /// <summary>Elastic pod sets grow past their minimum while a node has room and the quota allows. The
    /// workload is already charged for the pods it holds, at the models they landed on, so each optional
    /// pod is checked alone against what is left and charged as soon as it is placed.</summary>
    private void AddOptionalPods(WorkloadState workload, int[] counts, ulong[] masks)
    {
        var spec = workload.Spec;
        var probe = new int[counts.Length];
        var probeMasks = new ulong[masks.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            var podSet = spec.PodSets[i];
            var have = workload.Allocations.Count(a => a.PodSet == i);
            Array.Clear(probe);
            probe[i] = 1;
            for (var k = have; k < podSet.Count; k++)
            {
                if (QuotaFit(workload, probe, probeMasks) is not null || !PlaceOne(workload, i, k, new PodRequest(podSet, masks[i] & probeMasks[i]), null))
                {
                    break;
                }

                Recharge(workload);
            }
        }
    }

    private string NoFit(Model.WorkloadSpec spec, int podSet, int index, int count, in PodRequest request)
    {
        var p = spec.PodSets[podSet];
        var what = p.Accelerator.IsNone ? "no accelerator"
            : p.Accelerator.IsFraction ? $"{p.Accelerator.Milli}/1000 of one device"
            : $"{p.Accelerator.Count} whole device(s)";
        var models = request.WantsDevices ? $" of {DescribeModels(request.ModelMask)}" : "";
        var gang = count > 1 ? $" (pod {index + 1} of {count}; the gang starts all pods or none)" : "";
        return $"waiting: no schedulable node has room for pod set '{p.Name}'{gang}: {Units.Format(ResourceNames.CpuIndex, p.CpuMilli)} cpu, {Units.Format(ResourceNames.MemoryIndex, p.MemoryMiB)} memory, {what}{models}";
    }

    private string DescribeModels(ulong mask) =>
        mask == Catalog.AllModelsMask ? "any model" : string.Join("|", Enumerable.Range(0, Catalog.Count).Where(m => (mask & (1UL << m)) != 0).Select(m => Catalog[m].Name));
}
