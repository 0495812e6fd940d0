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
/// <para>That relaxation ignores that a job runs no faster than its g_j GPUs: under backlog it parks the
/// unfinished work on a few huge jobs that are long anyway, so it adds little. (3) The backlog bound
/// uses the cap. At any instant τ, no schedule has done more work than the fluid queue of rate M
/// (Lindley's recursion), so the jobs arrived by τ still hold at least B(τ) = that queue's content. A
/// job j arrived by τ that still holds R_j must run R_j / g_j more, so C_j ≥ τ + R_j / g_j, and
/// R_j ≥ L_j = g_j·(d_j − τ)⁺ (it can have run at most g_j per second since r_j) and R_j ≤ w_j. Writing
/// C_j = min(C_j, τ) + (C_j − τ)⁺ with min(C_j, τ) ≥ min(d_j, τ) gives Σ C_j ≥ Σ d_j + E(τ), where E(τ)
/// is the least Σ (R_j − L_j) / g_j over L_j ≤ R_j ≤ w_j with Σ R_j ≥ B(τ): a fractional knapsack that
/// fills the widest jobs first (a unit of backlog delays a g-GPU job by 1/g). The bound is
/// max over τ of (Σ d_j + E(τ) − Σ r_j) / n, evaluated in each quarter day at the arrival instant where
/// B(τ) − Σ L_j is largest (any τ gives a valid bound). It counts only the delay still to come after τ,
/// not the queueing before it, so it is still far from tight in a weeks-long overload.</para>
/// <para><see cref="Capacity"/> is the larger of (1+2) and (3), both valid.</para>
/// <para>(4) <see cref="BusyTime"/>, the mean busy time relaxation (after Goemans, Queyranne, Schulz,
/// Skutella and Wang, "Single machine scheduling with release dates", SIAM J. Discrete Math. 2002, here
/// with a rate cap per job and a Lagrangian dual). Let ρ_j(t) be the GPUs job j holds at t (g_j or 0 in
/// S) and M_j = (1/w_j)∫ t ρ_j(t) dt its mean busy time. Because ρ_j ≤ g_j, its work lies at best in the
/// last p_j seconds before C_j, so C_j ≥ M_j + p_j/2. Hence Σ (C_j − r_j) is at least the optimum of the
/// linear program min Σ_j (M_j + p_j/2 − r_j) over all rate profiles with 0 ≤ ρ_j ≤ g_j, ρ_j = 0 before
/// r_j, ∫ ρ_j = w_j and Σ_j ρ_j(t) ≤ M, which S satisfies. For any price π(t) ≥ 0 on GPU time, weak
/// duality gives D(π) = Σ_j min_ρj [M_j + p_j/2 − r_j + ∫ π ρ_j] − M ∫ π ≤ that optimum: for a feasible
/// profile the added term ∫ π (Σ ρ_j − M) is ≤ 0. Without the shared capacity each job's minimum is
/// exact and cheap: it runs at g_j during the p_j seconds of least cost t/w_j + π(t) after r_j. With π
/// constant on buckets the cost rises within a bucket, so the job takes a prefix of each bucket, and
/// one threshold on the cost fixes all prefixes. Every π gives a valid bound; a subgradient ascent
/// (raise the price where the relaxed jobs want more than M GPUs) makes it tight. Unlike (2) and (3),
/// this counts the delay that an overload forces at every instant, not at one.</para>
/// </remarks>
public static class JctBounds
{
    /// <summary>Mean duration: the mean JCT with zero queueing.</summary>
    public static double MeanDuration(IReadOnlyList<JobOutcome> jobs) => jobs.Count == 0 ? 0 : jobs.Average(j => j.Duration);

    /// <summary>The capacity-aware bound of the remarks: the larger of <see cref="FastMachine"/> and
    /// <see cref="Backlog"/>.</summary>
    public static double Capacity(IReadOnlyList<JobOutcome> jobs, double gpus) => Math.Max(FastMachine(jobs, gpus), Backlog(jobs, gpus));

    /// <summary>
    /// (1+2) of the remarks: (Σ_k max(c_(k), d_(k)) − Σ_j r_j) / n, where c are the completions of
    /// fluid SRPT of the works g_j·p_j on one machine of speed <paramref name="gpus"/> and d the
    /// no-queueing completions r_j + p_j. O(n log n).
    /// </summary>
    public static double FastMachine(IReadOnlyList<JobOutcome> jobs, double gpus)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gpus);
        var n = jobs.Count;
        if (n == 0)
        {
            return 0;
        }

        var byArrival = ByArrival(jobs);
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

    /// <summary>
    /// (3) of the remarks: mean duration + max over τ of E(τ) / n. O(n) per instant tried, one instant
    /// (the largest backlog) per quarter day of the trace.
    /// </summary>
    public static double Backlog(IReadOnlyList<JobOutcome> jobs, double gpus)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gpus);
        var n = jobs.Count;
        if (n == 0)
        {
            return 0;
        }

        var byArrival = ByArrival(jobs);
        var widestFirst = (int[])byArrival.Clone();
        Array.Sort(widestFirst, (a, b) => jobs[b].Gpus.CompareTo(jobs[a].Gpus));
        var position = new int[n];
        for (var k = 0; k < n; k++)
        {
            position[byArrival[k]] = k;
        }

        // At each arrival instant: the fluid queue's content B and what the jobs must hold anyway, Σ L_j
        // (kept incrementally: jobs leave the sum when τ passes their d_j). The knapsack runs at the
        // instant of largest B − Σ L_j in each quarter day.
        const double Bucket = 21_600;
        var candidates = new List<(int Last, double Need)>();
        var running = new PriorityQueue<int, double>();
        double backlog = 0, sumG = 0, sumGd = 0;
        var previous = jobs[byArrival[0]].Submit;
        for (var k = 0; k < n; k++)
        {
            var j = jobs[byArrival[k]];
            backlog = Math.Max(0, backlog - (gpus * (j.Submit - previous))) + (j.Gpus * j.Duration);
            previous = j.Submit;
            running.Enqueue(byArrival[k], j.Submit + j.Duration);
            sumG += j.Gpus;
            sumGd += j.Gpus * (j.Submit + j.Duration);
            if (k + 1 < n && jobs[byArrival[k + 1]].Submit == j.Submit)
            {
                continue;
            }

            while (running.TryPeek(out var r, out var d) && d <= j.Submit)
            {
                running.Dequeue();
                sumG -= jobs[r].Gpus;
                sumGd -= jobs[r].Gpus * d;
            }

            var need = backlog - (sumGd - (j.Submit * sumG));
            var sameBucket = candidates.Count > 0 && Math.Floor(jobs[byArrival[candidates[^1].Last]].Submit / Bucket) == Math.Floor(j.Submit / Bucket);
            if (!sameBucket)
            {
                candidates.Add((k, need));
            }
            else if (need > candidates[^1].Need)
            {
                candidates[^1] = (k, need);
            }
        }

        var extra = 0.0;
        foreach (var (last, needed) in candidates)
        {
            var tau = jobs[byArrival[last]].Submit;
            var need = needed;
            var delay = 0.0;
            for (var w = 0; w < n && need > 0; w++)
            {
                var index = widestFirst[w];
                var j = jobs[index];
                if (position[index] > last || j.Gpus <= 0)
                {
                    continue;
                }

                var room = (j.Gpus * j.Duration) - (j.Gpus * Math.Max(0, j.Submit + j.Duration - tau));
                var take = Math.Min(room, need);
                delay += take / j.Gpus;
                need -= take;
            }

            extra = Math.Max(extra, delay);
        }

        return MeanDuration(jobs) + (extra / n);
    }

    /// <summary>
    /// (4) of the remarks: the best Lagrangian bound D(π) found in <paramref name="iterations"/> steps of
    /// subgradient ascent on prices constant over <paramref name="buckets"/> buckets that cover the
    /// arrivals plus the time to run all work on <paramref name="gpus"/> GPUs (prices are zero after
    /// them). Every step's D(π) is a valid bound, so the result is valid whatever the number of steps; more
    /// steps or buckets only tighten it. Deterministic: the jobs are summed in fixed chunks and in order.
    /// O(iterations × n × buckets touched), seconds to a minute on a trace of 100,000 jobs.
    /// </summary>
    public static double BusyTime(IReadOnlyList<JobOutcome> jobs, double gpus, int iterations = 150, int buckets = 800, IProgress<double>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gpus);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(buckets);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        var n = jobs.Count;
        if (n == 0)
        {
            return 0;
        }

        var start = jobs.Min(j => j.Submit);
        var horizon = (jobs.Max(j => j.Submit) - start) + (jobs.Sum(j => j.Gpus * j.Duration) / gpus);
        var prices = new BusyTimePrices(start, Math.Max(horizon / buckets, 1e-9), buckets);
        var best = MeanDuration(jobs);
        for (var k = 0; k < iterations; k++)
        {
            var (bound, use) = prices.Dual(jobs, gpus);
            best = Math.Max(best, bound);

            // Raise the price where the relaxed jobs want more than the cluster, lower it where they want less.
            var capacity = gpus * prices.Width;
            var step = 0.5 / Math.Sqrt(k + 1);
            for (var b = 0; b < buckets; b++)
            {
                prices.Price[b] = Math.Max(0, prices.Price[b] + (step * (use[b] - capacity) / capacity));
            }

            progress?.Report((k + 1) / (double)iterations);
        }

        return iterations == 0 ? best : Math.Max(best, prices.Dual(jobs, gpus).Bound);
    }

    private static int[] ByArrival(IReadOnlyList<JobOutcome> jobs)
    {
        var order = new int[jobs.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => jobs[a].Submit.CompareTo(jobs[b].Submit));
        return order;
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

    /// <summary>Prices per GPU-second, constant on buckets of <see cref="Width"/> seconds from
    /// <see cref="Start"/>, zero outside them; and D(π) of (4) for them.</summary>
    private sealed class BusyTimePrices(double start, double width, int buckets)
    {
        private const int Chunks = 64;

        public double Start { get; } = start;

        public double Width { get; } = width;

        public double[] Price { get; } = new double[buckets];

        /// <summary>D(π) / n and the GPU-seconds the relaxed jobs take in each bucket.</summary>
        public (double Bound, double[] Use) Dual(IReadOnlyList<JobOutcome> jobs, double gpus)
        {
            var n = jobs.Count;
            var priced = new int[Price.Length + 1];
            for (var b = 0; b < Price.Length; b++)
            {
                priced[b + 1] = priced[b] + (Price[b] > 0 ? 1 : 0);
            }

            var totals = new double[Chunks];
            var uses = new double[Chunks][];
            Parallel.For(0, Chunks, c =>
            {
                var use = new double[Price.Length];
                var scratch = new List<(double From, double Length, double Key, int Bucket)>();
                var events = new List<(double At, int Slope)>();
                var total = 0.0;
                for (var i = c * n / Chunks; i < (c + 1) * n / Chunks; i++)
                {
                    total += Job(jobs[i], priced, use, scratch, events);
                }

                totals[c] = total;
                uses[c] = use;
            });

            var sum = 0.0;
            var useAll = new double[Price.Length];
            for (var c = 0; c < Chunks; c++)
            {
                sum += totals[c];
                for (var b = 0; b < useAll.Length; b++)
                {
                    useAll[b] += uses[c][b];
                }
            }

            return ((sum - (gpus * Width * Price.Sum())) / n, useAll);
        }

        private int BucketOf(double t) => (int)Math.Floor((t - Start) / Width);

        /// <summary>min over ρ_j of M_j + p_j/2 − r_j + ∫ π ρ_j; adds the chosen GPU-seconds to <paramref name="use"/>.</summary>
        private double Job(in JobOutcome job, int[] priced, double[] use, List<(double From, double Length, double Key, int Bucket)> scratch, List<(double At, int Slope)> events)
        {
            double r = job.Submit, p = job.Duration, g = job.Gpus;
            if (p <= 0 || g <= 0)
            {
                // Takes no GPU time: its JCT is at least its duration, and it uses no capacity.
                return Math.Max(p, 0);
            }

            var first = Math.Clamp(BucketOf(r), 0, Price.Length);
            var last = Math.Clamp(BucketOf(r + p) + 1, 0, Price.Length);
            if (priced[last] - priced[first] == 0)
            {
                // No price while it would run at once: [r, r + p] is the cheapest set (cost t/w rises).
                Spread(r, r + p, g, use);
                return p;
            }

            // The buckets from r until p seconds of unpriced time are passed: beyond them every cost
            // exceeds the threshold those unpriced seconds already meet.
            var w = g * p;
            scratch.Clear();
            var free = 0.0;
            for (var b = BucketOf(r); ; b++)
            {
                var from = Math.Max(r, Start + (b * Width));
                var inside = b < Price.Length;
                var length = inside ? Start + ((b + 1) * Width) - from : double.PositiveInfinity;
                var price = inside ? Price[b] : 0;
                if (length > 0)
                {
                    scratch.Add((from, length, (price * w) + from, inside ? b : -1));
                }

                if (price == 0 && (free += length) >= p)
                {
                    break;
                }
            }

            // The threshold U (cost × w) at which Σ clamp(U − key, 0, length) = p.
            events.Clear();
            foreach (var x in scratch)
            {
                events.Add((x.Key, 1));
                if (!double.IsPositiveInfinity(x.Length))
                {
                    events.Add((x.Key + x.Length, -1));
                }
            }

            events.Sort((a, b) => a.At.CompareTo(b.At));
            double measure = 0, at = events[0].At;
            var slope = 0;
            foreach (var e in events)
            {
                if (slope > 0 && measure + (slope * (e.At - at)) >= p)
                {
                    break;
                }

                measure += slope * (e.At - at);
                at = e.At;
                slope += e.Slope;
            }

            var threshold = at + ((p - measure) / slope);
            double busy = 0, paid = 0;
            foreach (var x in scratch)
            {
                var length = Math.Clamp(threshold - x.Key, 0, x.Length);
                if (length <= 0)
                {
                    continue;
                }

                busy += length * (x.From + (length / 2));
                if (x.Bucket >= 0)
                {
                    paid += Price[x.Bucket] * length;
                    use[x.Bucket] += g * length;
                }
            }

            return (busy / p) + (p / 2) - r + (g * paid);
        }

        private void Spread(double from, double to, double gpus, double[] use)
        {
            for (var b = Math.Max(0, BucketOf(from)); b < Price.Length && Start + (b * Width) < to; b++)
            {
                var overlap = Math.Min(to, Start + ((b + 1) * Width)) - Math.Max(from, Start + (b * Width));
                if (overlap > 0)
                {
                    use[b] += gpus * overlap;
                }
            }
        }
    }
}
