namespace Aicc.Scheduling.Framework;

/// <summary>
/// EASY backfilling (Lifka, 1995; Mu'alem and Feitelson, IEEE TPDS 2001) as a cycle option
/// (<see cref="PolicySpec.Backfill"/> = <c>Easy</c>). The first workload of a cycle that no node can
/// host gets a reservation: the running workloads are released in a what-if in the order of their
/// estimated ends (<see cref="Model.WorkloadSpec.EstimatedDurationSeconds"/>) until it would fit; that
/// end is the shadow time. A later workload then starts only if, by its own estimate, it ends before
/// the shadow time, or if the reserved workload would still fit at the shadow time with it running.
/// Pure and deterministic: the what-ifs restore the exact devices they release. A workload without an
/// estimate never ends as far as the reservation knows; when the head cannot fit even after every
/// estimated end, no reservation is made and the cycle stays best-effort.
/// </summary>
public sealed partial class Scheduler
{
    private Reservation? _reservation;

    // RespectsReservation's answers for the current reservation and state: (candidate's placement, fits).
    private readonly List<(PodAllocation[] Placement, bool Fits)> _reservationChecks = [];
    private readonly Dictionary<(PodShape Shape, int Pods), string> _refusedShapes = [];
    private Reservation? _checkedReservation;
    private long _checkedAtCommit = -1;

    /// <summary>Off only in tests, which compare decisions with and without the memo.</summary>
    internal bool MemoiseReservationChecks { get; set; } = true;

    /// <summary>How often the memo answered (for tests).</summary>
    internal long ReservationCheckHits { get; private set; }

    /// <summary>Admissions and evictions committed so far: the state a memo was made on is unchanged
    /// while this is.</summary>
    private long _commits;

    private sealed class Reservation(WorkloadState head, DateTimeOffset shadow, List<WorkloadState> endingBefore)
    {
        public WorkloadState Head { get; } = head;

        public DateTimeOffset Shadow { get; } = shadow;

        /// <summary>Running workloads expected to end by <see cref="Shadow"/> (backfilled ones join).</summary>
        public List<WorkloadState> EndingBefore { get; } = endingBefore;
    }

    private bool EasyBackfill => string.Equals(Policy.Backfill, "Easy", StringComparison.OrdinalIgnoreCase);

    private static DateTimeOffset? ExpectedEnd(WorkloadState w, DateTimeOffset now) =>
        w.Spec.EstimatedDurationSeconds is { } d && double.IsFinite(d) && w.AdmittedAt is { } at
            ? Max(at + TimeSpan.FromSeconds(Math.Max(0, d)), now)
            : null;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>Finds the head's shadow time. O(running · log running) plus one placement what-if per
    /// distinct end once enough devices are free; runs at most once per cycle.</summary>
    private Reservation? MakeReservation(WorkloadState head, DateTimeOffset now)
    {
        var running = new List<(DateTimeOffset End, WorkloadState Workload)>();
        var free = (double)Cluster.TotalDevices;
        foreach (var queue in _admitted)
        {
            foreach (var w in queue)
            {
                free -= w.HeldDevices;
                if (ExpectedEnd(w, now) is { } end)
                {
                    running.Add((end, w));
                }
            }
        }

        running.Sort((a, b) => a.End != b.End ? a.End.CompareTo(b.End) : a.Workload.Sequence.CompareTo(b.Workload.Sequence));
        var need = 0.0;
        foreach (var p in head.Spec.PodSets)
        {
            need += p.RequiredCount * p.Accelerator.TotalMilli / 1000.0;
        }

        var saved = new List<(WorkloadState, List<(int, int, PodAllocation)>)>();
        Reservation? found = null;
        for (var i = 0; i < running.Count && found is null; i++)
        {
            var (end, w) = running[i];
            free += w.HeldDevices;
            saved.Add((w, Suspend(w)));
            var lastOfEnd = i + 1 == running.Count || running[i + 1].End != end;
            if (lastOfEnd && free + 1e-9 >= need && WouldFit(head))
            {
                found = new Reservation(head, end, [.. saved.Select(s => s.Item1)]);
            }
        }

        for (var i = saved.Count - 1; i >= 0; i--)
        {
            Resume(saved[i].Item1, saved[i].Item2);
        }

        return found;
    }

    /// <summary>Has a workload of the same single pod shape and gang size been placed and refused by the
    /// reservation since the last admission or eviction? Then this one would be placed alike (placement is
    /// a function of the state and the request when nothing random is read) and refused alike, unless it
    /// ends before the shadow time by its own estimate. Skips the placement: 10.7 million of them in the
    /// full Philly EASY replay. <c>shape</c> is the pod shape on the models admission left, <c>pods</c>
    /// the pods the gang needs at once.</summary>
    private bool ReservationKnownToBlock(WorkloadState workload, in PodShape shape, int pods, DateTimeOffset now, FailedShapes? failedShapes, out string reason)
    {
        reason = "";
        if (_reservation is not { } r || ReferenceEquals(r.Head, workload) || workload.Spec.PodSets.Count != 1 ||
            !ReferenceEquals(_checkedReservation, r) || _checkedAtCommit != _commits || _refusedShapes.Count == 0 ||
            EndsBeforeShadow(workload, now, r))
        {
            return false;
        }

        if (!_refusedShapes.TryGetValue((shape, pods), out var refused) || (failedShapes?.Blocks(shape) ?? false))
        {
            return false;
        }

        ReservationCheckHits++;
        reason = refused;
        return true;
    }

    /// <summary>Remembers a refusal by <see cref="RespectsReservation"/> for <see cref="ReservationKnownToBlock"/>;
    /// valid while the memo of placements is (same reservation, no commit since).</summary>
    private void NoteReservationBlocked(WorkloadState workload, int[] counts, ulong[] masks, string reason)
    {
        if (workload.Spec.PodSets.Count == 1 && ReferenceEquals(_checkedReservation, _reservation) && _checkedAtCommit == _commits)
        {
            _refusedShapes[(new PodRequest(workload.Spec.PodSets[0], masks[0]).Shape, RequiredPods(workload, counts))] = reason;
        }
    }

    private static int RequiredPods(WorkloadState workload, int[] counts) => Math.Min(counts[0], workload.Spec.PodSets[0].RequiredCount);

    private static bool EndsBeforeShadow(WorkloadState candidate, DateTimeOffset now, Reservation r) =>
        candidate.Spec.EstimatedDurationSeconds is { } d && double.IsFinite(d) && now + TimeSpan.FromSeconds(Math.Max(0, d)) <= r.Shadow;

    /// <summary>May <paramref name="candidate"/>, placed but not yet committed, start without delaying the
    /// reservation? Leaves the state as it found it.</summary>
    private bool RespectsReservation(WorkloadState candidate, DateTimeOffset now, out string reason)
    {
        reason = "";
        if (_reservation is not { } r || ReferenceEquals(r.Head, candidate))
        {
            return true;
        }

        if (EndsBeforeShadow(candidate, now, r))
        {
            return true;
        }

        // Memo: the answer depends only on the state (unchanged while nothing is admitted or evicted), the
        // reservation, and where the candidate sits. A FIFO queue offers many candidates of one shape in a
        // row, each placed alike: the full Philly EASY replay spent most of its time repeating this what-if.
        var memo = MemoiseReservationChecks && !Placer.UsesRandomness;
        if (memo && (!ReferenceEquals(_checkedReservation, r) || _checkedAtCommit != _commits))
        {
            _reservationChecks.Clear();
            _refusedShapes.Clear();
            _checkedReservation = r;
            _checkedAtCommit = _commits;
        }

        bool? known = null;
        if (memo)
        {
            foreach (var (placement, answer) in _reservationChecks)
            {
                if (SamePlacement(placement, candidate.Allocations))
                {
                    ReservationCheckHits++;
                    known = answer;
                    break;
                }
            }
        }

        var fits = known ?? HeadFitsAtShadow(r);
        if (memo && known is null)
        {
            _reservationChecks.Add(([.. candidate.Allocations.Select(a => a.Allocation)], fits));
        }

        if (!fits)
        {
            reason = $"waiting: starting now would delay {r.Head.Spec.Id}, which holds the backfill reservation for {r.Shadow:O}";
        }

        return fits;
    }

    /// <summary>Would the head fit once every workload expected to end by the shadow time has? A what-if
    /// that leaves the state as it found it.</summary>
    private bool HeadFitsAtShadow(Reservation r)
    {
        var saved = new List<(WorkloadState, List<(int, int, PodAllocation)>)>();
        foreach (var w in r.EndingBefore)
        {
            if (w.Phase == WorkloadPhase.Admitted && w.Allocations.Count > 0)
            {
                saved.Add((w, Suspend(w)));
            }
        }

        var fits = WouldFit(r.Head);
        for (var i = saved.Count - 1; i >= 0; i--)
        {
            Resume(saved[i].Item1, saved[i].Item2);
        }

        return fits;
    }

    private static bool SamePlacement(PodAllocation[] placement, List<(int PodSet, int Index, PodAllocation Allocation)> allocations)
    {
        if (placement.Length != allocations.Count)
        {
            return false;
        }

        for (var i = 0; i < placement.Length; i++)
        {
            var (a, b) = (placement[i], allocations[i].Allocation);
            if (a.Node != b.Node || a.MilliPerDevice != b.MilliPerDevice || a.CpuMilli != b.CpuMilli || a.MemoryMiB != b.MemoryMiB ||
                a.DeviceMemoryMiB != b.DeviceMemoryMiB || !a.Devices.AsSpan().SequenceEqual(b.Devices))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A backfilled workload that ends before the shadow time frees its room for the head too.</summary>
    private void NoteBackfilled(WorkloadState admitted, DateTimeOffset now)
    {
        if (_reservation is { } r && ExpectedEnd(admitted, now) is { } end && end <= r.Shadow)
        {
            r.EndingBefore.Add(admitted);
        }
    }
}
