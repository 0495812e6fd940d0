namespace Aicc.Simulation.Replay;

/// <summary>
/// Lower bounds on the mean JCT that any schedule of a set of rigid gang jobs can reach on a cluster
/// of a given number of GPUs, preemptive or not, whatever the placement. They tell how much of a
/// policy's distance from "zero queueing" is forced by the cluster's capacity.
/// </summary>
/// <remarks>
/// <para>Job j arrives at r_j, runs p_j seconds on g_j GPUs, so its work is w_j = g_j·p_j; the cluster
/// has M GPUs. In any schedule S the jobs running at time t hold at most M GPUs, so the rates at
/// which work is done sum to at most M. Two relaxations follow.</para>
/// <para>(1) No queueing: C_j ≥ r_j + p_j. Let d_(k) be the k-th smallest of the r_j + p_j.</para>
/// <para>(2) The fast single machine: forget gangs and nodes and let one machine of speed M process
/// the works w_j, each from its release r_j, preemptively and possibly shared. Preemptive shortest
/// remaining processing time (SRPT) on that machine has, at every time t, completed at least as many
/// jobs as any schedule whose total rate is at most M (Schrage 1968; the exchange argument of
/// Smith 1978): for every k, the k smallest remaining works under SRPT sum to no more than the k
/// smallest under any such schedule, since an arrival adds the same value to both, SRPT lowers each
/// positive such sum at the full rate M and no schedule lowers it faster. S is such a schedule (its
/// rates are g_j or 0), so with c_(k) the k-th SRPT completion, S's k-th completion is ≥ c_(k).</para>
/// <para>S's k-th completion is thus ≥ max(c_(k), d_(k)), and Σ_j C_j = Σ_k C_(k) ≥ Σ_k max(c_(k), d_(k)).
/// Subtracting Σ r_j gives the bound on the total JCT. It is at least the larger of the two separate
/// bounds (mean duration; mean SRPT response time) and usually above both, because the two sorted
/// completion sequences cross. Note that Σ_j max(C_j^SRPT, r_j + p_j) per job would NOT be valid:
/// SRPT's completion of a given job is not a lower bound on that job's completion elsewhere.</para>
/// <para>The relaxation ignores that a job runs no faster than its g_j GPUs, so it is loose while the
/// cluster has idle GPUs (a 1-GPU job "runs" on all M) and tight under backlog.</para>
/// </remarks>
public static class JctBounds
{
    /// <summary>Mean duration: the mean JCT with zero queueing.</summary>
    public static double MeanDuration(IReadOnlyList<JobOutcome> jobs) => jobs.Count == 0 ? 0 : jobs.Average(j => j.Duration);

    /// <summary>
    /// The capacity-aware bound of the remarks: (Σ_k max(c_(k), d_(k)) − Σ_j r_j) / n, where c are the
    /// completions of fluid SRPT of the works g_j·p_j on one machine of speed <paramref name="gpus"/>
    /// and d the no-queueing completions r_j + p_j. O(n log n).
    /// </summary>
    public static double Capacity(IReadOnlyList<JobOutcome> jobs, double gpus)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gpus);
        var n = jobs.Count;
        if (n == 0)
        {
            return 0;
        }

        var byArrival = new int[n];
        for (var i = 0; i < n; i++)
        {
            byArrival[i] = i;
        }

        Array.Sort(byArrival, (a, b) => jobs[a].Submit.CompareTo(jobs[b].Submit));
        var srpt = FluidSrptCompletions(jobs, byArrival, gpus);
        var direct = new double[n];
        var releases = 0.0;
        for (var i = 0; i < n; i++)
        {
            direct[i] = jobs[i].Submit + jobs[i].Duration;
            releases += jobs[i].Submit;
        }

        Array.Sort(srpt);
        Array.Sort(direct);
        var completions = 0.0;
        for (var k = 0; k < n; k++)
        {
            completions += Math.Max(srpt[k], direct[k]);
        }

        return (completions - releases) / n;
    }

    /// <summary>Completion times, in no particular order, of preemptive SRPT of the works on one machine
    /// of speed <paramref name="speed"/>, event by event: the head of a heap keyed by remaining work runs
    /// until it ends or the next arrival, whichever comes first.</summary>
    private static double[] FluidSrptCompletions(IReadOnlyList<JobOutcome> jobs, int[] byArrival, double speed)
    {
        var n = byArrival.Length;
        var done = new double[n];
        var heap = new PriorityQueue<int, double>(n);
        var left = new double[n];
        var next = 0;
        var finished = 0;
        var t = jobs[byArrival[0]].Submit;
        while (finished < n)
        {
            while (next < n && jobs[byArrival[next]].Submit <= t)
            {
                var j = byArrival[next++];
                left[j] = jobs[j].Gpus * jobs[j].Duration;
                heap.Enqueue(j, left[j]);
            }

            if (!heap.TryPeek(out var head, out _))
            {
                t = jobs[byArrival[next]].Submit;
                continue;
            }

            var arrival = next < n ? jobs[byArrival[next]].Submit : double.PositiveInfinity;
            var end = t + (left[head] / speed);
            if (end <= arrival)
            {
                heap.Dequeue();
                done[finished++] = end;
                t = end;
            }
            else
            {
                // Re-keyed so that the newcomer is compared with what the head has left.
                heap.Dequeue();
                left[head] -= (arrival - t) * speed;
                heap.Enqueue(head, left[head]);
                t = arrival;
            }
        }

        return done;
    }
}
