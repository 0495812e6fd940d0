using Aicc.Scheduling.Quotas;

namespace Aicc.Scheduling.Framework;

/// <summary>
/// Preemption: when a workload is blocked by quota or capacity, find allowed victims — first workloads
/// of other queues in the cohort that borrow (reclaiming this queue's lent quota), then lower-priority
/// ones, newest first — evict them one by one in a what-if until the workload fits, then put back every
/// victim that turns out not to be needed. The result is a minimal victim set (no victim can be spared),
/// whole workloads only, none younger than the minimum runtime. Each what-if releases and restores the
/// exact same devices, so a failed attempt leaves the state as it found it.
/// Reclaim follows Kueue's rule (and HiveD's guarantee, Zhao et al., OSDI'20: a tenant always gets its
/// own quota back): a queue reclaims only for a workload that fits within its own nominal quota, and
/// only from queues that still borrow when their turn comes. Without both conditions two queues near
/// their nominal quota evict each other's work in turn (a reclaim leaves the victim's queue under its
/// quota, so it reclaims back): 146,305 evictions for the first 1,000 Philly jobs.
/// </summary>
public sealed partial class Scheduler
{
    private readonly Dictionary<PreemptionKey, double> _preemptionFailures = [];
    private CycleResult? _preemptionCycle;
    private int _preemptionChanges;

    /// <summary>What decides a preemption attempt for a single-pod-set workload besides its sort key: its
    /// queue and priority choose the candidates, its shape decides what fits. A larger sort key only
    /// shrinks the candidates (victims must have a strictly larger key), so the memo keeps the smallest
    /// key that failed and every attempt at that key or above fails too; queue-sort order visits keys
    /// ascending, so one failure per shape answers the rest of the queue.</summary>
    private readonly record struct PreemptionKey(int Queue, int Priority, Attempt Blocked, PodShape Shape, int Count, int Required);

    private bool TryPreempt(WorkloadState preemptor, DateTimeOffset now, Attempt blocked, CycleResult result)
    {
        if (!MayPreempt())
        {
            return false;
        }

        // Memo: within one cycle, while nothing was admitted or evicted since, a workload like one whose
        // preemption failed fails too (same candidates, same what-ifs). Saves an O(running) scan per
        // waiting workload on long queues.
        var changes = result.Admitted.Count + result.Evicted.Count;
        if (!ReferenceEquals(_preemptionCycle, result) || _preemptionChanges != changes)
        {
            _preemptionFailures.Clear();
            _preemptionCycle = result;
            _preemptionChanges = changes;
        }

        PreemptionKey? key = preemptor.Spec.PodSets.Count == 1
            ? new PreemptionKey(preemptor.QueueIndex, preemptor.Spec.Priority, blocked,
                preemptor.FirstShape!.Value, preemptor.Spec.PodSets[0].Count, preemptor.Spec.PodSets[0].RequiredCount)
            : null;
        if (key is { } k && _preemptionFailures.TryGetValue(k, out var failedAt) && preemptor.SortKey >= failedAt)
        {
            return false;
        }

        var preempted = TryPreemptNow(preemptor, now, blocked, result);
        if (!preempted && key is { } failed)
        {
            _preemptionFailures[failed] = Math.Min(preemptor.SortKey, _preemptionFailures.GetValueOrDefault(failed, double.MaxValue));
        }

        return preempted;
    }

    /// <summary>Has an attempt exactly like this one already failed in this cycle, with nothing changed since?</summary>
    private bool PreemptionKnownToFail(WorkloadState preemptor, CycleResult result) =>
        preemptor.Spec.PodSets.Count == 1 &&
        ReferenceEquals(_preemptionCycle, result) &&
        _preemptionChanges == result.Admitted.Count + result.Evicted.Count &&
        _preemptionFailures.TryGetValue(new PreemptionKey(preemptor.QueueIndex, preemptor.Spec.Priority, Attempt.CapacityBlocked,
            preemptor.FirstShape!.Value, preemptor.Spec.PodSets[0].Count, preemptor.Spec.PodSets[0].RequiredCount), out var failedAt) &&
        preemptor.SortKey >= failedAt;

    private bool TryPreemptNow(WorkloadState preemptor, DateTimeOffset now, Attempt blocked, CycleResult result)
    {
        var candidates = Candidates(preemptor, now, blocked);
        if (candidates.Count == 0)
        {
            return false;
        }

        var saved = new Dictionary<WorkloadState, List<(int, int, PodAllocation)>>();
        var victims = new List<WorkloadState>();
        var fits = false;
        foreach (var (candidate, reclaimOnly) in candidates)
        {
            // A reclaim victim's queue may have stopped borrowing once earlier victims were suspended.
            if (reclaimOnly && !IsBorrowingAny(candidate.QueueIndex))
            {
                continue;
            }

            saved[candidate] = Suspend(candidate);
            victims.Add(candidate);
            if (WouldFit(preemptor))
            {
                fits = true;
                break;
            }
        }

        if (!fits)
        {
            for (var i = victims.Count - 1; i >= 0; i--)
            {
                Resume(victims[i], saved[victims[i]]);
            }

            return false;
        }

        for (var i = victims.Count - 2; i >= 0; i--)
        {
            Resume(victims[i], saved[victims[i]]);
            if (WouldFit(preemptor))
            {
                victims.RemoveAt(i);
            }
            else
            {
                saved[victims[i]] = Suspend(victims[i]);
            }
        }

        // Admit while the victims are only suspended: should the real placement differ from the trial
        // (seeded tie-breaks move on between them) and fail, the victims are restored untouched.
        var evicted = result.Evicted.Count;
        var outcome = TryAdmit(preemptor, now, result, null, out _);
        if (outcome != Attempt.Admitted)
        {
            for (var i = victims.Count - 1; i >= 0; i--)
            {
                Resume(victims[i], saved[victims[i]]);
            }

            return false;
        }

        var why = blocked == Attempt.QuotaBlocked ? "quota" : "capacity";
        foreach (var victim in victims)
        {
            Requeue(victim, $"preempted by {preemptor.Spec.Id} (priority {preemptor.Spec.Priority}, queue {preemptor.Spec.Queue}) to free {why}", heldBeforeRelease: DevicesIn(saved[victim]));
            result.Evicted.Insert(evicted++, new Eviction(victim.Spec.Id, victim.Reason!));
        }

        var admission = result.Admitted[^1];
        result.Admitted[^1] = admission with { Victims = [.. victims.Select(v => v.Spec.Id)] };
        return true;
    }

    /// <summary>Whether the policy can evict anything at all here: reclaim alone needs a queue in a cohort
    /// (a private cluster of one queue never reclaims, so its cycles may skip unchanged waiters).</summary>
    private bool MayPreempt()
    {
        var o = Policy.Preemption;
        return o.WithinQueue != PreemptionScope.Never || o.ForCapacity != PreemptionScope.Never || o.ForQueueSortLevel ||
            (o.ReclaimWithinCohort != PreemptionScope.Never && Quotas.AnyQueueInCohort());
    }

    /// <summary>Allowed victims in eviction order, at most <see cref="SchedulerSetup.MaxPreemptionCandidates"/>;
    /// <c>ReclaimOnly</c> marks those allowed only as reclaim (victims only while their queue borrows).</summary>
    private List<(WorkloadState Victim, bool ReclaimOnly)> Candidates(WorkloadState preemptor, DateTimeOffset now, Attempt blocked)
    {
        var options = Policy.Preemption;
        var minRuntime = TimeSpan.FromSeconds(options.MinRuntimeSeconds);
        var q = preemptor.QueueIndex;
        var root = Quotas.RootOf(q);
        var mayReclaim = options.ReclaimWithinCohort != PreemptionScope.Never && !IsBorrowingAny(q) && WithinNominal(preemptor);
        var forCapacity = blocked == Attempt.CapacityBlocked && (options.ForCapacity != PreemptionScope.Never || options.ForQueueSortLevel);
        if (!mayReclaim && !forCapacity && options.WithinQueue == PreemptionScope.Never)
        {
            // Nobody can be a victim: skip the O(running) scan (a quota policy's long over-quota queues).
            return [];
        }

        var found = new List<(WorkloadState Victim, bool Reclaim, bool ReclaimOnly)>();
        for (var vq = 0; vq < _admitted.Length; vq++)
        {
            if (_admitted[vq].Count == 0)
            {
                continue;
            }

            var sameQueue = vq == q;
            var sameTree = Quotas.RootOf(vq) == root;
            var reclaim = !sameQueue && sameTree && mayReclaim && IsBorrowingAny(vq);
            foreach (var victim in _admitted[vq])
            {
                if (!victim.Spec.Preemptible || now - victim.AdmittedAt!.Value < minRuntime)
                {
                    continue;
                }

                var lower = victim.Spec.Priority < preemptor.Spec.Priority;
                var byReclaim = reclaim && Allows(options.ReclaimWithinCohort, lower);
                var otherwise =
                    (sameQueue && Allows(options.WithinQueue, lower)) ||
                    (blocked == Attempt.CapacityBlocked && options.ForCapacity != PreemptionScope.Never && lower) ||
                    (blocked == Attempt.CapacityBlocked && options.ForQueueSortLevel && victim.Spec.Priority <= preemptor.Spec.Priority &&
                        _queueSort.Key(victim, now) > preemptor.SortKey);
                if (byReclaim || otherwise)
                {
                    found.Add((victim, reclaim, byReclaim && !otherwise));
                }
            }
        }

        // A pod of several devices needs them on one node. Newest first across the cluster suspends
        // victims on many nodes (up to the candidate cap) before any one node has room, and a reclaim
        // fails when no node can be emptied of borrowed work alone, so for such a preemptor the
        // candidates come grouped by node, the node where free plus evictable devices are most first.
        var room = preemptor.RequestedDevices > 1 ? EvictableRoom(found) : null;
        if (room is not null && !MightFit(preemptor, room))
        {
            return [];
        }

        // One struct key per candidate and one array sort, not six LINQ key selectors (a tenth of srtf-wide's
        // time). The key ends in the unique sequence number, so the order is total and any sort gives it.
        var keys = new VictimOrder[found.Count];
        var items = new (WorkloadState Victim, bool ReclaimOnly)[found.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            var (victim, reclaim, reclaimOnly) = found[i];
            var node = room is null || victim.Allocations.Count == 0 ? -1 : victim.Allocations[0].Allocation.Node;
            keys[i] = new VictimOrder(reclaim, victim.Spec.Priority, node < 0 ? 0 : room![node], node < 0 ? 0 : node, victim.AdmittedAt, victim.Sequence);
            items[i] = (victim, reclaimOnly);
        }

        Array.Sort(keys, items);
        var take = Math.Min(items.Length, Math.Max(0, _setup.MaxPreemptionCandidates));
        var candidates = new List<(WorkloadState Victim, bool ReclaimOnly)>(take);
        for (var i = 0; i < take; i++)
        {
            candidates.Add(items[i]);
        }

        return candidates;
    }

    /// <summary>Eviction order: reclaim first, lower priority first, then (for a multi-device preemptor) the
    /// node with the most room first and by node, then the newest admission, then the newest submission.</summary>
    private readonly record struct VictimOrder(bool Reclaim, int Priority, long Room, int Node, DateTimeOffset? AdmittedAt, long Sequence) : IComparable<VictimOrder>
    {
        public int CompareTo(VictimOrder other)
        {
            var c = other.Reclaim.CompareTo(Reclaim);
            if (c != 0)
            {
                return c;
            }

            c = Priority.CompareTo(other.Priority);
            if (c != 0)
            {
                return c;
            }

            c = other.Room.CompareTo(Room);
            if (c != 0)
            {
                return c;
            }

            c = Node.CompareTo(other.Node);
            if (c != 0)
            {
                return c;
            }

            c = Nullable.Compare(other.AdmittedAt, AdmittedAt);
            return c != 0 ? c : other.Sequence.CompareTo(Sequence);
        }
    }

    /// <summary>Per node: free device share plus what the candidates there hold, milli-devices.
    /// O(devices + candidates' pods).</summary>
    private long[] EvictableRoom(List<(WorkloadState Victim, bool Reclaim, bool ReclaimOnly)> found)
    {
        var room = new long[Cluster.NodeCount];
        for (var node = 0; node < room.Length; node++)
        {
            for (int d = Cluster.FirstDevice(node), end = d + Cluster.DevicesOn(node); d < end; d++)
            {
                room[node] += 1000 - Cluster.DeviceUsed(d);
            }
        }

        foreach (var (victim, _, _) in found)
        {
            foreach (var (_, _, a) in victim.Allocations)
            {
                room[a.Node] += (long)a.Devices.Length * a.MilliPerDevice;
            }
        }

        return room;
    }

    /// <summary>A necessary condition for any what-if to succeed: evicting every candidate leaves some
    /// node with room for each pod, and room for all of them in total. When it fails, the what-ifs
    /// (up to one placement per candidate) are skipped. Same decisions, far less work: srtf-oracle on
    /// full Philly went from 34–48 to 14 CPU s.</summary>
    private static bool MightFit(WorkloadState preemptor, long[] room)
    {
        long largest = 0, total = 0;
        foreach (var r in room)
        {
            largest = Math.Max(largest, r);
            total += r;
        }

        long demand = 0;
        foreach (var p in preemptor.Spec.PodSets)
        {
            if (p.RequiredCount == 0)
            {
                continue;
            }

            if (p.Accelerator.TotalMilli > largest)
            {
                return false;
            }

            demand += p.RequiredCount * p.Accelerator.TotalMilli;
        }

        return demand <= total;
    }

    /// <summary>
    /// Whether the workload's required pods fit within its queue's own nominal quota (usage included),
    /// i.e. admitting it would not make the queue borrow. Accelerators as in <see cref="QuotaFit"/>: each
    /// pod set needs one allowed model whose demand fits; SCU is charged at the cheapest such model.
    /// O(pod sets × models), no allocation.
    /// </summary>
    private bool WithinNominal(WorkloadState workload)
    {
        var spec = workload.Spec;
        var q = workload.QueueIndex;
        long cpu = 0, memory = 0;
        foreach (var p in spec.PodSets)
        {
            cpu = checked(cpu + p.RequiredCount * p.CpuMilli);
            memory = checked(memory + p.RequiredCount * p.MemoryMiB);
        }

        if (!FitsNominal(q, ResourceNames.CpuIndex, cpu) || !FitsNominal(q, ResourceNames.MemoryIndex, memory))
        {
            return false;
        }

        ulong fitting = 0;
        for (var m = 0; m < Catalog.Count; m++)
        {
            long demand = 0;
            for (var i = 0; i < spec.PodSets.Count; i++)
            {
                if ((workload.ModelMasks[i] & (1UL << m)) != 0)
                {
                    demand = checked(demand + spec.PodSets[i].RequiredCount * spec.PodSets[i].Accelerator.TotalMilli);
                }
            }

            if (FitsNominal(q, ResourceNames.AcceleratorIndex(m), demand))
            {
                fitting |= 1UL << m;
            }
        }

        long scu = 0;
        for (var i = 0; i < spec.PodSets.Count; i++)
        {
            var p = spec.PodSets[i];
            if (p.RequiredCount == 0 || p.Accelerator.IsNone)
            {
                continue;
            }

            var mask = workload.ModelMasks[i] & fitting;
            if (mask == 0)
            {
                return false;
            }

            var cheapest = -1;
            for (var m = 0; m < Catalog.Count; m++)
            {
                if ((mask & (1UL << m)) != 0 && (cheapest < 0 || Catalog[m].ScuMilli < Catalog[cheapest].ScuMilli))
                {
                    cheapest = m;
                }
            }

            scu = checked(scu + p.RequiredCount * PodScu(cheapest, p.Accelerator));
        }

        return FitsNominal(q, ResourceNames.ScuIndex, scu);
    }

    /// <summary>Whether <see cref="WithinNominal"/> fails for every waiting workload of the queue: for every
    /// accelerator model, the queue's usage plus the least device demand of any of its waiters
    /// (<see cref="DeviceDemand"/>) exceeds its nominal quota. O(models).</summary>
    private bool NominalRefusesEveryWaiter(int queue)
    {
        if (Catalog.Count == 0 || _demands[queue].Count == 0)
        {
            return false;
        }

        var least = _demands[queue].Min;
        for (var m = 0; m < Catalog.Count; m++)
        {
            if (FitsNominal(queue, ResourceNames.AcceleratorIndex(m), least))
            {
                return false;
            }
        }

        return true;
    }

    private bool FitsNominal(int queue, int resource, long demand) =>
        demand == 0 || !Quotas.IsConstrained(queue, resource) || Quotas.UsageAt(queue, resource) + demand <= Quotas.SubtreeAt(queue, resource);

    private static bool Allows(PreemptionScope scope, bool lowerPriority) =>
        scope == PreemptionScope.Any || (scope == PreemptionScope.LowerPriority && lowerPriority);

    private bool IsBorrowingAny(int queue) => Quotas.IsBorrowingAny(queue);

    /// <summary>Releases a workload's devices and quota for a what-if, returning what to restore.</summary>
    private List<(int, int, PodAllocation)> Suspend(WorkloadState workload)
    {
        var allocations = workload.Allocations.ToList();
        Release(workload);
        return allocations;
    }

    private void Resume(WorkloadState workload, List<(int, int, PodAllocation)> allocations)
    {
        foreach (var (podSet, index, allocation) in allocations)
        {
            if (!Cluster.Allocate(allocation, workload.Handle))
            {
                throw new InvalidOperationException($"what-if could not restore workload {workload.Spec.Id}: the state changed underneath it");
            }

            workload.Allocations.Add((podSet, index, allocation));
        }

        Charge(workload);
    }

    /// <summary>Would the workload be admitted on the current state? Leaves the state unchanged.</summary>
    private bool WouldFit(WorkloadState workload)
    {
        var counts = workload.Spec.PodSets.Select(p => p.RequiredCount).ToArray();
        var masks = new ulong[counts.Length];
        if (QuotaFit(workload, counts, masks) is not null)
        {
            return false;
        }

        var placed = Reserve(workload, counts, masks, null, out _);
        if (placed)
        {
            Rollback(workload);
        }

        return placed;
    }
}
