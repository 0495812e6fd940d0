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

        /// <summary>It fits, but starting it would delay the EASY backfill reservation.</summary>
        ReservationBlocked,
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
        _clock = now;
        _reservation = null;
        var fair = _queueSort.UsesFairShare;
        var heads = new PriorityQueue<(int Queue, WorkloadState Workload), HeadKey>();

        // Each queue is walked by index, in queue order as of now (PendingOrder): what the cycle admits or
        // requeues meanwhile changes the next cycle's walk, not this one's.
        var fromFresh = new List<WorkloadState>?[_pending.Length];
        var next = new int[_pending.Length];
        var neverPreempts = !MayPreempt();
        var o = Policy.Preemption;
        var reclaimOnly = !neverPreempts && o.WithinQueue == PreemptionScope.Never && o.ForCapacity == PreemptionScope.Never && !o.ForQueueSortLevel;
        var incremental = _setup.SkipUnchangedWaiting && !_freed && !EasyBackfill && neverPreempts;
        _freed = false;
        var fresh = _fresh;
        _fresh = [];
        List<WorkloadState>[]? freshByQueue = null;
        if (incremental)
        {
            freshByQueue = new List<WorkloadState>[_pending.Length];
            foreach (var w in fresh)
            {
                if (w.Phase == WorkloadPhase.Pending)
                {
                    (freshByQueue[w.QueueIndex] ??= []).Add(w);
                }
            }
        }

        for (var q = 0; q < _pending.Length; q++)
        {
            if (_pending[q].Count == 0)
            {
                continue;
            }

            if (freshByQueue is not null && Quotas.QueueAt(q).Strategy == QueueingStrategy.BestEffortFifo)
            {
                fromFresh[q] = freshByQueue[q] ?? [];
                fromFresh[q]!.Sort(QueueOrder.Instance);
            }
            else
            {
                _order[q].Sync(_pending[q]);
            }

            Advance(q);
        }

        result.SortTime += Since(start);
        var failedShapes = new FailedShapes();
        var parked = new List<int>();
        var parkedAt = 0;
        var last = default(PendingKey);
        while (true)
        {
            // A parked queue re-enters the walk as soon as anything was admitted or evicted, just past the
            // workload that did it: the ones before that point saw the state it was parked on.
            if (parked.Count > 0 && result.Admitted.Count + result.Evicted.Count != parkedAt)
            {
                foreach (var q in parked)
                {
                    next[q] = _order[q].IndexAfter(last, next[q]);
                    Advance(q);
                }

                parked.Clear();
            }

            if (!heads.TryDequeue(out var head, out _))
            {
                break;
            }

            var (queue, workload) = head;
            last = PendingKey.Of(workload);

            // With SkipUnchangedWaiting, once every device is allocated and no preemption can free one,
            // nobody left needs a look: all that wait want devices (none asks for CPU only). They keep
            // their reason from when they were last considered.
            if (_setup.SkipUnchangedWaiting && neverPreempts && _pendingWithoutDevices == 0 && Cluster.AllocatedMilli >= Cluster.TotalDevices * 1000L)
            {
                break;
            }

            // The same for a policy that can only reclaim (quota + cohort borrowing): while every device is
            // allocated, a workload that wants devices starts only by reclaiming, and it may reclaim only
            // if its queue does not borrow and it fits the queue's nominal quota; the others are passed
            // over at the cost of a heap step and keep their reason. Decisions are those of a full look:
            // while the cluster is full such a workload fails both admission and preemption.
            if (_setup.SkipUnchangedWaiting && reclaimOnly && workload.RequestedDevices > 0 &&
                Quotas.QueueAt(queue).Strategy == QueueingStrategy.BestEffortFifo &&
                Cluster.AllocatedMilli >= Cluster.TotalDevices * 1000L && (IsBorrowingAny(queue) || !WithinNominal(workload)))
            {
                // When every waiter of the queue would be passed over like this one (all want devices, and
                // the queue borrows or none of them fits what is left of its nominal quota), the queue is parked:
                // passed over whole, not one heap step per waiter (6.4 million for the first 10,000 Philly
                // jobs), until an admission or eviction unparks it above. Fair share changes a queue's
                // key as admissions count, so only queue-sort order allows this.
                if (!fair && _pendingWithoutDevices == 0 && fromFresh[queue] is null && (IsBorrowingAny(queue) || NominalRefusesEveryWaiter(queue)))
                {
                    parked.Add(queue);
                    parkedAt = result.Admitted.Count + result.Evicted.Count;
                    continue;
                }

                Advance(queue);
                continue;
            }

            // With room left in the cluster, a queue that cannot reclaim (it borrows, or none of its waiters
            // fits what is left of its nominal quota) and whose smallest waiter asks for more of each model than the queue
            // may still take fails admission by quota and then preemption for every waiter, this one
            // included: it is parked the same way (20 million quota refusals in the full Philly replay).
            if (_setup.SkipUnchangedWaiting && reclaimOnly && !fair && _pendingWithoutDevices == 0 && fromFresh[queue] is null &&
                Quotas.QueueAt(queue).Strategy == QueueingStrategy.BestEffortFifo && QuotaRefusesEveryWaiter(queue) &&
                (IsBorrowingAny(queue) || NominalRefusesEveryWaiter(queue)))
            {
                parked.Add(queue);
                parkedAt = result.Admitted.Count + result.Evicted.Count;
                continue;
            }

            result.Considered++;

            // Fast path for long queues: a workload of a queue without quota limits whose only pod shape
            // dominates one that already failed this cycle fails too (FailedShapes); with no preemption to
            // try, it waits with the memoised reason at the cost of a few comparisons.
            if (workload.FirstShape is { } shape && !Quotas.IsConstrainedAny(queue) && failedShapes.Blocks(shape) &&
                (neverPreempts || PreemptionKnownToFail(workload, result)))
            {
                var podSet = workload.Spec.PodSets[0];
                var w = workload;
                if (!Wait(queue, workload, failedShapes.Reason(shape, podSet.RequiredCount, podSet.Name, () => NoFit(w.Spec, 0, 0, podSet.RequiredCount, new PodRequest(podSet, w.ModelMasks[0]))), result))
                {
                    Advance(queue);
                }

                continue;
            }

            // The same for EASY: in a queue without quota limits admission leaves a single pod set its
            // shape and full count, so a shape the reservation just refused (ReservationKnownToBlock) is
            // refused here without the admission attempt (10.7 million in the full Philly replay).
            if (workload.FirstShape is { } refusedShape && _reservation is not null && !Quotas.IsConstrainedAny(queue) &&
                ReservationKnownToBlock(workload, refusedShape, workload.Spec.PodSets[0].RequiredCount, now, failedShapes, out var refused))
            {
                if (!Wait(queue, workload, refused, result))
                {
                    Advance(queue);
                }

                continue;
            }

            var outcome = TryAdmit(workload, now, result, failedShapes, out var reason);
            if (outcome != Attempt.Admitted)
            {
                var t = Stopwatch.GetTimestamp();
                var reservation = _reservation;
                _reservation = null;
                var preempted = outcome != Attempt.ReservationBlocked && TryPreempt(workload, now, outcome, result);
                _reservation = reservation;
                result.PreemptTime += Since(t);
                if (preempted)
                {
                    failedShapes.Clear();
                    Advance(queue);
                    continue;
                }

                // 6. EASY backfill: the first workload that no node can host reserves its start (Scheduler.Backfill.cs).
                if (outcome == Attempt.CapacityBlocked && _reservation is null && EasyBackfill)
                {
                    _reservation = MakeReservation(workload, now);
                }

                if (Wait(queue, workload, reason, result))
                {
                    continue;
                }
            }

            Advance(queue);
        }

        _reservation = null;
        return result;

        bool MoveNext(int q, out WorkloadState w)
        {
            var i = next[q];
            var list = fromFresh[q];
            if (i >= (list?.Count ?? _order[q].Count))
            {
                w = null!;
                return false;
            }

            w = list is not null ? list[i] : _order[q][i];
            next[q] = i + 1;
            return true;
        }

        void Advance(int q)
        {
            if (MoveNext(q, out var w))
            {
                heads.Enqueue((q, w), new HeadKey(fair ? FairShare(q) : 0, PendingKey.Of(w)));
            }
        }

        // Records why the workload waits. In a StrictFIFO queue everything behind it waits too, and the
        // queue is done for this cycle (true); otherwise the caller moves on to the next waiter (false).
        bool Wait(int q, WorkloadState w, string why, CycleResult r)
        {
            w.Reason = why;
            r.Waiting.Add((w.Spec.Id, why));
            if (Quotas.QueueAt(q).Strategy != QueueingStrategy.StrictFifo)
            {
                return false;
            }

            BlockBehind(q, w, r);
            return true;
        }

        void BlockBehind(int q, WorkloadState blocker, CycleResult r)
        {
            while (MoveNext(q, out var w))
            {
                w.Reason = $"waiting: behind {blocker.Spec.Id} in StrictFIFO queue {Quotas.NameAt(q)}";
                r.Waiting.Add((w.Spec.Id, w.Reason));
            }
        }
    }

    /// <summary>A queue head's place among the heads: fair share first (0 when not fair), then its place in
    /// its queue.</summary>
    private readonly record struct HeadKey(double Share, PendingKey Pending) : IComparable<HeadKey>
    {
        public int CompareTo(HeadKey other)
        {
            var c = Share.CompareTo(other.Share);
            return c != 0 ? c : Pending.CompareTo(other.Pending);
        }
    }

    /// <summary>
    /// Quota, then placement of every pod, then the quota charge; on failure nothing is left allocated.
    /// </summary>
    private Attempt TryAdmit(WorkloadState workload, DateTimeOffset now, CycleResult result, FailedShapes? failedShapes, out string reason)
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
        if (_reservation is not null && spec.PodSets.Count == 1 &&
            ReservationKnownToBlock(workload, new PodRequest(spec.PodSets[0], masks[0]).Shape, RequiredPods(workload, counts), now, failedShapes, out reason))
        {
            result.PlaceTime += Since(t);
            return Attempt.ReservationBlocked;
        }

        var placed = Reserve(workload, counts, masks, failedShapes, out reason);
        if (placed && _reservation is not null && !RespectsReservation(workload, now, out reason))
        {
            NoteReservationBlocked(workload, counts, masks, reason);
            Rollback(workload);
            result.PlaceTime += Since(t);
            return Attempt.ReservationBlocked;
        }

        if (placed)
        {
            _commits++;
            Charge(workload);
            AddOptionalPods(workload, masks);
            LeavePending(workload);
            workload.Phase = WorkloadPhase.Admitted;
            workload.AdmittedAt = now;
            workload.Reason = null;
            _admitted[workload.QueueIndex].Add(workload);
            NoteFairUsage(workload);
            NoteBackfilled(workload, now);
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

        // SCU: charge each pod set at its most expensive allowed model; while that does not fit, the pod
        // set whose top model is priciest gives that model up (if it has another). Each round removes a
        // model, so this ends after at most (pod sets × models) rounds.
        var top = new int[counts.Length];
        while (true)
        {
            long worst = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                top[i] = -1;
                var accelerator = spec.PodSets[i].Accelerator;
                if (counts[i] == 0 || accelerator.IsNone)
                {
                    continue;
                }

                for (var m = 0; m < Catalog.Count; m++)
                {
                    if ((masks[i] & (1UL << m)) != 0 && (top[i] < 0 || Catalog[m].ScuMilli > Catalog[top[i]].ScuMilli))
                    {
                        top[i] = m;
                    }
                }

                worst = checked(worst + counts[i] * PodScu(top[i], accelerator));
            }

            var scuShort = Short(q, ResourceNames.ScuIndex, worst);
            if (scuShort is null)
            {
                return null;
            }

            var drop = -1;
            for (var i = 0; i < counts.Length; i++)
            {
                if (top[i] >= 0 && ulong.PopCount(masks[i]) > 1 && (drop < 0 || Catalog[top[i]].ScuMilli > Catalog[top[drop]].ScuMilli))
                {
                    drop = i;
                }
            }

            if (drop < 0)
            {
                return scuShort;
            }

            masks[drop] &= ~(1UL << top[drop]);
        }
    }

    /// <summary>Whether every model's quota left to the queue is below the least device demand of any of its
    /// waiters (<see cref="DeviceDemand"/>), so that <see cref="QuotaFit"/> refuses each of them. O(models × depth).</summary>
    private bool QuotaRefusesEveryWaiter(int queue)
    {
        if (Catalog.Count == 0 || _demands[queue].Count == 0)
        {
            return false;
        }

        var least = _demands[queue].Min;
        for (var m = 0; m < Catalog.Count; m++)
        {
            if (Quotas.Available(queue, ResourceNames.AcceleratorIndex(m)) >= least)
            {
                return false;
            }
        }

        return true;
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

        // A long queue over its quota asks the same question thousands of times a cycle with the same
        // numbers; formatting the answer dominated the quota replay (about 25 µs each, 1.1 million
        // times for 3,000 Philly jobs). The key holds every number the text shows, so a hit is exact.
        var nominal = Quotas.NominalAt(queue, resource);
        var usage = Quotas.UsageAt(queue, resource);
        var key = new ShortKey(queue, resource, demand, available, nominal, usage);
        if (_shortReasons.TryGetValue(key, out var cached))
        {
            return cached;
        }

        if (_shortReasons.Count >= MaxShortReasons)
        {
            _shortReasons.Clear();
        }

        var name = ResourceNames.NameOf(resource, Catalog);
        var parent = Quotas.ParentOf(queue);
        var lend = parent < 0 ? "it has no cohort to borrow from" : $"cohort {Quotas.NameAt(parent)} has {Units.Format(resource, Math.Max(0, available - Math.Max(0, nominal - usage)))} to lend";
        var reason = $"waiting: queue {Quotas.NameAt(queue)} needs {Units.Format(resource, demand)} of {name} but has {Units.Format(resource, available)} available (nominal {Units.Format(resource, nominal)}, in use {Units.Format(resource, usage)}); {lend}";
        _shortReasons[key] = reason;
        return reason;
    }

    private const int MaxShortReasons = 4096;

    private readonly Dictionary<ShortKey, string> _shortReasons = [];

    private readonly record struct ShortKey(int Queue, int Resource, long Demand, long Available, long Nominal, long Usage);

    /// <summary>Places the required pods of every pod set, all or none.</summary>
    private bool Reserve(WorkloadState workload, int[] counts, ulong[] masks, FailedShapes? failedShapes, out string reason)
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
                if (first && failedShapes is not null && failedShapes.Blocks(request.Shape))
                {
                    var (podSet, gang, r) = (i, required[i], request);
                    reason = failedShapes.Reason(request.Shape, gang, spec.PodSets[i].Name, () => NoFit(spec, podSet, 0, gang, r));
                    return false;
                }

                if (!PlaceOne(workload, i, k, request, plan))
                {
                    if (first)
                    {
                        failedShapes?.Add(request.Shape);
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

    /// <summary>
    /// Elastic pod sets grow past their minimum while a node has room and the quota allows. The pods
    /// already placed are charged first, so each extra pod is checked against what is really left.
    /// </summary>
    private void AddOptionalPods(WorkloadState workload, ulong[] masks)
    {
        var spec = workload.Spec;
        var probe = new int[spec.PodSets.Count];
        var probeMasks = new ulong[spec.PodSets.Count];
        for (var i = 0; i < spec.PodSets.Count; i++)
        {
            var podSet = spec.PodSets[i];
            for (var k = workload.Allocations.Count(a => a.PodSet == i); k < podSet.Count; k++)
            {
                Array.Clear(probe);
                probe[i] = 1;
                if (QuotaFit(workload, probe, probeMasks) is not null ||
                    !PlaceOne(workload, i, k, new PodRequest(podSet, masks[i] & probeMasks[i]), null))
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
