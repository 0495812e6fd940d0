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

    /// <summary>May <paramref name="candidate"/>, placed but not yet committed, start without delaying the
    /// reservation? Leaves the state as it found it.</summary>
    private bool RespectsReservation(WorkloadState candidate, DateTimeOffset now, out string reason)
    {
        reason = "";
        if (_reservation is not { } r || ReferenceEquals(r.Head, candidate))
        {
            return true;
        }

        if (candidate.Spec.EstimatedDurationSeconds is { } d && double.IsFinite(d) && now + TimeSpan.FromSeconds(Math.Max(0, d)) <= r.Shadow)
        {
            return true;
        }

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

        if (!fits)
        {
            reason = $"waiting: starting now would delay {r.Head.Spec.Id}, which holds the backfill reservation for {r.Shadow:O}";
        }

        return fits;
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
